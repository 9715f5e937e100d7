package localsched

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/wire"
)

// applyFunc applies one KV change with t.mu held.
type applyFunc func(key string, value []byte, deleted bool)

// watch mirrors one bucket into the cache for the life of ctx; the
// cache keeps serving while the broker is gone.
func (t *Ticker) watch(ctx context.Context, bucket string, apply applyFunc) {
	bus.Mirror{
		Open: func(ctx context.Context) (jetstream.KeyValue, error) { return t.cfg.JS.KeyValue(ctx, bucket) },
		Apply: func(e jetstream.KeyValueEntry, replay, _ bool) {
			t.mu.Lock()
			defer t.mu.Unlock()
			apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
			if !replay {
				t.saveLocked()
			}
		},
		Synced:     func(present map[string]bool) { t.reconcile(bucket, present) },
		Log:        t.cfg.Log.With("bucket", bucket),
		MaxBackoff: 30 * time.Second,
	}.Run(ctx)
}

// reconcile drops cached keys that a fresh listing no longer has (deleted
// while the broker was unreachable), then persists the cache.
func (t *Ticker) reconcile(bucket string, present map[string]bool) {
	t.mu.Lock()
	cache := t.st.Schedules
	if bucket == wire.BucketJobs {
		cache = t.st.Jobs
		for id := range t.allJobs {
			if !present[id] {
				delete(t.allJobs, id)
			}
		}
	}
	for id := range cache {
		if !present[id] {
			delete(cache, id)
		}
	}
	t.syncJobsLocked()
	t.saveLocked()
	t.mu.Unlock()
	t.loadedOnce[bucket].Do(func() { close(t.loaded[bucket]) })
}

// applySchedule caches agent-side schedules only; targeting is judged at
// tick time because the agent's groups change live.
func (t *Ticker) applySchedule(id string, value []byte, deleted bool) {
	if deleted {
		delete(t.st.Schedules, id)
		t.syncJobsLocked()
		return
	}
	s, err := manifest.ReadSchedule(value)
	if err != nil {
		t.cfg.Log.Error("corrupt schedule in KV; skipped", "id", id, "err", err)
		delete(t.st.Schedules, id)
		return
	}
	if s.RunsOn != "agent" {
		delete(t.st.Schedules, id)
		return
	}
	t.st.Schedules[id] = json.RawMessage(slices.Clone(value))
	if _, seen := t.st.Cursor[id]; !seen {
		// A schedule first seen now may fire the current minute but must
		// not catch up on minutes from before it existed here.
		t.st.Cursor[id] = t.cfg.Clock.Now().Truncate(time.Minute).Add(-time.Minute)
	}
	t.syncJobsLocked()
}

func (t *Ticker) applyJob(id string, value []byte, deleted bool) {
	if deleted {
		delete(t.allJobs, id)
		delete(t.st.Jobs, id)
		return
	}
	t.allJobs[id] = json.RawMessage(slices.Clone(value))
	t.syncJobsLocked()
}

// syncJobsLocked keeps on disk exactly the jobs the cached schedules use,
// so the cache stays small on a PC with few agent-side schedules.
func (t *Ticker) syncJobsLocked() {
	used := map[string]bool{}
	for _, raw := range t.st.Schedules {
		if s, err := manifest.ReadSchedule(raw); err == nil {
			used[s.JobID] = true
		}
	}
	for id := range t.st.Jobs {
		if !used[id] {
			delete(t.st.Jobs, id)
		}
	}
	for id := range used {
		if raw, ok := t.allJobs[id]; ok {
			t.st.Jobs[id] = raw
		}
	}
}
