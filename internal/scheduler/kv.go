package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/wire"
)

// ErrJobMissing is returned by Jobs when the schedule's job does not exist.
var ErrJobMissing = errors.New("job missing")

// kvTimeout bounds every KV round trip so a stalled broker turns into a
// skipped or degraded tick instead of a stuck scheduler.
const kvTimeout = 5 * time.Second

// JobsKV reads jobs from KV jobs.
type JobsKV struct{ KV jetstream.KeyValue }

func (j JobsKV) Job(ctx context.Context, id string) (*manifest.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	e, err := j.KV.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, ErrJobMissing
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	job, err := manifest.ReadJob(e.Value())
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return job, nil
}

// MarksKV keeps dispatch marks in KV scheduler_dispatch, one key per PC
// (policy.MarkKeyPC) plus one per whole target (policy.MarkKeyTarget); the
// value is the dispatch instant.
type MarksKV struct {
	JS jetstream.JetStream
	KV jetstream.KeyValue
}

// Read fetches every PC mark of the schedule with one filtered watch that
// stops at the initial-values marker: one stream scan instead of one
// round trip per PC, which matters for a fleet-wide fire.
func (m MarksKV) Read(ctx context.Context, scheduleID string, pcs []string) (map[string]time.Time, *time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	target, err := m.readTarget(ctx, scheduleID)
	if err != nil {
		return nil, nil, err
	}
	if len(pcs) == 0 {
		return map[string]time.Time{}, target, nil
	}
	all, err := m.readPCs(ctx, scheduleID)
	if err != nil {
		return nil, target, err
	}
	out := make(map[string]time.Time, len(pcs))
	for _, pc := range pcs {
		if t, ok := all[pc]; ok {
			out[pc] = t
		}
	}
	return out, target, nil
}

func (m MarksKV) readTarget(ctx context.Context, scheduleID string) (*time.Time, error) {
	e, err := m.KV.Get(ctx, policy.MarkKeyTarget(scheduleID))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read target mark of %s: %w", scheduleID, err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return nil, nil // an unreadable mark counts as absent: over-fire, never under-fire
	}
	return &t, nil
}

func (m MarksKV) readPCs(ctx context.Context, scheduleID string) (map[string]time.Time, error) {
	prefix := policy.MarkKeyPC(scheduleID, "")
	w, err := m.KV.Watch(ctx, policy.MarkKeyPC(scheduleID, "*"), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch marks of %s: %w", scheduleID, err)
	}
	defer w.Stop()
	out := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read marks of %s: %w", scheduleID, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read marks of %s: watch closed", scheduleID)
			}
			if e == nil {
				return out, nil
			}
			if t, err := time.Parse(time.RFC3339Nano, string(e.Value())); err == nil {
				out[e.Key()[len(prefix):]] = t
			}
		}
	}
}

func (m MarksKV) WritePCs(ctx context.Context, scheduleID string, pcs []string, at time.Time) error {
	keys := make([]string, len(pcs))
	for i, pc := range pcs {
		keys[i] = policy.MarkKeyPC(scheduleID, pc)
	}
	return m.put(ctx, keys, at)
}

func (m MarksKV) WriteTarget(ctx context.Context, scheduleID string, at time.Time) error {
	return m.put(ctx, []string{policy.MarkKeyTarget(scheduleID)}, at)
}

// put publishes every mark asynchronously and then waits for all acks, so
// thousands of marks cost one pipelined burst rather than serial puts.
func (m MarksKV) put(ctx context.Context, keys []string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	val := []byte(wire.Stamp(at))
	futures := make([]jetstream.PubAckFuture, 0, len(keys))
	for _, k := range keys {
		f, err := m.JS.PublishAsync("$KV."+wire.BucketDispatch+"."+k, val)
		if err != nil {
			return fmt.Errorf("write mark %s: %w", k, err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return fmt.Errorf("write marks: %w", ctx.Err())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("write marks: %d of %d failed: %w", len(errs), len(keys), errs[0])
	}
	return nil
}

// LedgerKV records the last fired minute per schedule under "fired.<id>"
// in KV scheduler_dispatch. Two tokens and a first token distinct from the
// mark families keep it apart from every mark key. The bucket's 1 h TTL is
// far longer than any hand-over, which is all the ledger must span.
type LedgerKV struct{ KV jetstream.KeyValue }

func ledgerKey(scheduleID string) string { return "fired." + scheduleID }

func (l LedgerKV) Claim(ctx context.Context, scheduleID string, minute time.Time) (bool, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	key := ledgerKey(scheduleID)
	val := []byte(wire.Stamp(minute))
	// Two attempts: a conflict means another replica wrote in between,
	// and the second read tells whether it took this very minute.
	for range 2 {
		e, err := l.KV.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			rev, err := l.KV.Create(ctx, key, val)
			if err == nil {
				return true, l.releaser(key, nil, rev), nil
			}
			if !isConflict(err) {
				return false, nil, fmt.Errorf("claim %s: %w", key, err)
			}
		case err != nil:
			return false, nil, fmt.Errorf("claim %s: %w", key, err)
		default:
			last, perr := time.Parse(time.RFC3339Nano, string(e.Value()))
			if perr == nil && !last.Before(minute) {
				return false, nil, nil
			}
			rev, err := l.KV.Update(ctx, key, val, e.Revision())
			if err == nil {
				return true, l.releaser(key, e.Value(), rev), nil
			}
			if !isConflict(err) {
				return false, nil, fmt.Errorf("claim %s: %w", key, err)
			}
		}
	}
	return false, nil, nil
}

// releaser restores the previous record, but only if nobody wrote since.
func (l LedgerKV) releaser(key string, prev []byte, rev uint64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
			defer cancel()
			if prev == nil {
				_ = l.KV.Delete(ctx, key, jetstream.LastRevision(rev))
				return
			}
			_, _ = l.KV.Update(ctx, key, prev, rev)
		})
	}
}

func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}
