package localsched

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/wire"
)

// applyFunc applies one KV change with t.mu held.
type applyFunc func(key string, value []byte, deleted bool)

// watch mirrors one bucket into the cache for the life of ctx, re-opening
// the watch whenever it cannot be opened or ends: the broker may be gone
// for hours and the cache keeps serving meanwhile.
func (t *Ticker) watch(ctx context.Context, bucket string, apply applyFunc) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := t.watchOnce(ctx, bucket, apply)
		if ctx.Err() != nil {
			return
		}
		t.cfg.Log.Debug("watch ended; retrying", "bucket", bucket, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (t *Ticker) watchOnce(ctx context.Context, bucket string, apply applyFunc) error {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	kv, err := t.cfg.JS.KeyValue(octx, bucket)
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
	initial := true
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("updates channel closed")
			}
			if e == nil {
				t.reconcile(bucket, present)
				initial = false
				continue
			}
			if initial && e.Operation() == jetstream.KeyValuePut {
				present[e.Key()] = true
			}
			t.mu.Lock()
			apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
			if !initial {
				t.saveLocked()
			}
			t.mu.Unlock()
		}
	}
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
