package server

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runBackground runs the long-lived loops until ctx ends.
func (s *Server) runBackground(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.proj.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("projector stopped", "err", err)
		}
	})
	wg.Go(func() { s.fan.RunRollouts(ctx, time.Second) })
	wg.Go(func() {
		if err := s.sched.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler stopped", "err", err)
		}
	})
	wg.Wait()
}

// reproject drops the projection. The projector's durable consumers are
// named after the database instance, so a reset database replays every
// stream from its first message.
func (s *Server) reproject(ctx context.Context) error {
	if err := s.db.Reset(ctx); err != nil {
		return fmt.Errorf("reset projection: %w", err)
	}
	s.log.Info("projection dropped; rebuilding from the streams")
	return nil
}
