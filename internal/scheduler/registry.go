package scheduler

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/schedule"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
)

// entry is one registered schedule, immutable once registered: an edit
// replaces the entry, so a tick in progress finishes on the old version.
type entry struct {
	s   *manifest.Schedule
	low *schedule.Lowered
	// since bounds calendar catch-up: a schedule created at 09:01 must not
	// fire its 09:00 minute. Schedules of the initial load get a since in
	// the past so a minute missed during a restart can still be caught up.
	since time.Time
}

type registry struct {
	log   *slog.Logger
	clock clock.Clock

	mu       sync.Mutex
	entries  map[string]*entry
	loaded   chan struct{}
	loadOnce sync.Once
}

func newRegistry(log *slog.Logger, c clock.Clock) *registry {
	return &registry{log: log, clock: c, entries: map[string]*entry{}, loaded: make(chan struct{})}
}

func (r *registry) snapshot() []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e)
	}
	return out
}

func (r *registry) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.entries))
	for id := range r.entries {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (r *registry) unregister(id, why string) {
	r.mu.Lock()
	_, had := r.entries[id]
	delete(r.entries, id)
	r.mu.Unlock()
	if had {
		r.log.Info("schedule unregistered", "id", id, "why", why)
	}
}

// apply turns one KV entry into a registration change. initial marks the
// entries of the initial listing.
func (r *registry) apply(e jetstream.KeyValueEntry, initial bool) {
	id := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		r.unregister(id, "deleted")
		return
	}
	s, err := manifest.ReadSchedule(e.Value())
	if err != nil {
		r.log.Error("corrupt schedule in KV; skipped", "id", id, "err", err)
		r.unregister(id, "corrupt")
		return
	}
	if s.ID != id {
		r.log.Warn("schedule id differs from its key; using the key", "key", id, "id", s.ID)
		s.ID = id
	}
	r.register(s, initial)
}

func (r *registry) register(s *manifest.Schedule, initial bool) {
	if !s.IsEnabled() {
		r.unregister(s.ID, "disabled")
		return
	}
	if s.RunsOn == "agent" {
		r.unregister(s.ID, "runs on agents")
		return
	}
	low, err := schedule.Lower(s)
	if err != nil {
		r.log.Error("schedule does not lower; skipped", "id", s.ID, "err", err)
		r.unregister(s.ID, "invalid")
		return
	}
	now := r.clock.Now()
	if low.PastOneShot(now) {
		r.log.Warn("one-shot schedule is in the past: it will never fire", "id", s.ID, "at", s.When.Calendar.At)
	}
	since := now
	if initial {
		since = time.Time{}
	}
	r.mu.Lock()
	// A re-watch or an edit that leaves the timing alone must not lose a
	// minute that is still inside the catch-up grace.
	if old := r.entries[s.ID]; old != nil && old.low.Cron == low.Cron && old.low.Loc.String() == low.Loc.String() {
		since = old.since
	}
	r.entries[s.ID] = &entry{s: s, low: low, since: since}
	r.mu.Unlock()
	r.log.Info("schedule registered", "id", s.ID, "cron", low.Cron, "mode", low.Mode)
}

// reconcile drops registrations whose key was absent from a fresh listing
// (deleted while the watch was down).
func (r *registry) reconcile(present map[string]bool) {
	for _, id := range r.ids() {
		if !present[id] {
			r.unregister(id, "absent after re-watch")
		}
	}
	r.loadOnce.Do(func() { close(r.loaded) })
}

// watch keeps the registry in step with KV schedules for the life of ctx.
func (s *Scheduler) watch(ctx context.Context) {
	bus.Mirror{
		Open:   func(context.Context) (jetstream.KeyValue, error) { return s.cfg.Schedules, nil },
		Apply:  func(e jetstream.KeyValueEntry, _, first bool) { s.reg.apply(e, first) },
		Synced: s.reg.reconcile,
		Log:    s.cfg.Log.With("bucket", "schedules"),
	}.Run(ctx)
}
