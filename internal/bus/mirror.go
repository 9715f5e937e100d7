package bus

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Mirror keeps a reader in step with a KV bucket for the life of ctx.
type Mirror struct {
	// Open returns the bucket; it is called again whenever the watch ends,
	// because the broker may be gone for hours.
	Open func(ctx context.Context) (jetstream.KeyValue, error)
	// Apply receives every put and delete. replay is true for the current
	// values an (re)opened watch starts with; first is true during the very
	// first replay only.
	Apply func(e jetstream.KeyValueEntry, replay, first bool)
	// Synced is called after each replay with the keys it held, so the
	// reader can drop what was deleted while the watch was down.
	Synced     func(present map[string]bool)
	Log        *slog.Logger
	MaxBackoff time.Duration // default 10s
}

// Run watches until ctx ends, re-opening the watch with backoff. Every
// (re)opened watch replays the current values, so reconciliation after a
// broken watch comes for free.
func (m Mirror) Run(ctx context.Context) {
	backoff := 500 * time.Millisecond
	maxBackoff := m.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 10 * time.Second
	}
	for first := true; ctx.Err() == nil; first = false {
		err := m.once(ctx, first)
		if ctx.Err() != nil {
			return
		}
		if m.Log != nil {
			m.Log.Warn("kv watch ended; re-opening", "err", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (m Mirror) once(ctx context.Context, first bool) error {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	kv, err := m.Open(octx)
	cancel()
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	present := map[string]bool{}
	replay := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("updates channel closed")
			}
			if e == nil { // end of the current values
				m.Synced(present)
				replay = false
				continue
			}
			if replay && e.Operation() == jetstream.KeyValuePut {
				present[e.Key()] = true
			}
			m.Apply(e, replay, replay && first)
		}
	}
}
