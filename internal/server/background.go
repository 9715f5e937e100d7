package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kanade-dev/kanade/internal/audit"
	"github.com/kanade-dev/kanade/internal/fanout"
)

// runBackground runs the long-lived loops until ctx ends.
func (s *Server) runBackground(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.proj.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("projector stopped", "err", err)
		}
	})
	wg.Go(func() {
		fan := &fanout.Fanout{JS: s.js, Store: s.db, Audit: &audit.Publisher{JS: s.js}, Log: s.log}
		fan.RunRollouts(ctx, time.Second)
	})
	wg.Wait()
}

// reproject drops the projection; the projector rebuilds it from the
// streams because its durable consumers are recreated from sequence 1.
func (s *Server) reproject(ctx context.Context) error {
	if err := s.db.Reset(ctx); err != nil {
		return fmt.Errorf("reset projection: %w", err)
	}
	return s.proj0Reset(ctx)
}
