package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
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

// MarksKV keeps dispatch marks in KV scheduler_dispatch: one record per
// batch of PCs marked together (policy.MarkKeyPCs), so a fleet-wide fire
// costs a few puts instead of one per PC, plus one key per whole target
// (policy.MarkKeyTarget). A PC's mark is the newest batch that names it;
// the bucket's TTL ages batches out. Use it by pointer: it remembers, per
// schedule, the marks read so far and the next revision to read, so each
// Read costs only the batches written since the last one.
type MarksKV struct {
	JS jetstream.JetStream
	KV jetstream.KeyValue

	mu   sync.Mutex
	byID map[string]*markCache
}

// markCache is what one schedule's batches said up to revision next-1.
// It holds one instant per PC ever marked for the schedule, so it is
// bounded by the fleet; marks older than the bucket's TTL stay in it but
// are far past any suppression window (30 min at most).
type markCache struct {
	mu   sync.Mutex
	pcs  map[string]time.Time
	next uint64
}

// markBatch is the value of a batch record.
type markBatch struct {
	At  time.Time `json:"at"`
	PCs []string  `json:"pcs"`
}

// markBatchMax caps the PCs of one record: with ids of at most 64
// characters a record stays far below the broker's 1 MiB payload limit.
const markBatchMax = 2000

// Read returns every PC mark of the schedule and its whole-target mark
// (nil when absent). New batches are read with one filtered watch from
// the last revision seen, which stops at the initial-values marker: no
// round trip per PC, and no re-reading of the hour of batches before.
func (m *MarksKV) Read(ctx context.Context, scheduleID string) (map[string]time.Time, *time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	target, err := m.readTarget(ctx, scheduleID)
	if err != nil {
		return nil, nil, err
	}
	pcs, err := m.readPCs(ctx, scheduleID)
	if err != nil {
		return nil, target, err
	}
	return pcs, target, nil
}

func (m *MarksKV) readTarget(ctx context.Context, scheduleID string) (*time.Time, error) {
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

func (m *MarksKV) cacheOf(scheduleID string) *markCache {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byID == nil {
		m.byID = map[string]*markCache{}
	}
	c := m.byID[scheduleID]
	if c == nil {
		c = &markCache{pcs: map[string]time.Time{}}
		m.byID[scheduleID] = c
	}
	return c
}

// readPCs brings the schedule's cache up to date and returns a copy. On
// an error the cache keeps what it had applied, which stays true.
func (m *MarksKV) readPCs(ctx context.Context, scheduleID string) (map[string]time.Time, error) {
	c := m.cacheOf(scheduleID)
	c.mu.Lock()
	defer c.mu.Unlock()
	opts := []jetstream.WatchOpt{jetstream.IncludeHistory(), jetstream.IgnoreDeletes()}
	if c.next > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(c.next))
	}
	w, err := m.KV.Watch(ctx, policy.MarkKeyPCs(scheduleID, "*"), opts...)
	if err != nil {
		return nil, fmt.Errorf("watch marks of %s: %w", scheduleID, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read marks of %s: %w", scheduleID, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("read marks of %s: watch closed", scheduleID)
			}
			if e == nil {
				return maps.Clone(c.pcs), nil
			}
			c.apply(e)
		}
	}
}

func (c *markCache) apply(e jetstream.KeyValueEntry) {
	c.next = max(c.next, e.Revision()+1)
	var b markBatch
	if json.Unmarshal(e.Value(), &b) != nil {
		return // an unreadable batch counts as absent: over-fire, never under-fire
	}
	for _, pc := range b.PCs {
		if prev, ok := c.pcs[pc]; !ok || b.At.After(prev) {
			c.pcs[pc] = b.At
		}
	}
}

// WritePCs marks pcs as dispatched at at, in records of at most
// markBatchMax PCs, all in flight at once.
func (m *MarksKV) WritePCs(ctx context.Context, scheduleID string, pcs []string, at time.Time) error {
	var recs []kvRecord
	for chunk := range slices.Chunk(pcs, markBatchMax) {
		val, err := json.Marshal(markBatch{At: at.UTC(), PCs: chunk})
		if err != nil {
			return fmt.Errorf("encode marks: %w", err)
		}
		recs = append(recs, kvRecord{key: policy.MarkKeyPCs(scheduleID, uuid.NewString()), val: val})
	}
	return m.put(ctx, recs)
}

func (m *MarksKV) WriteTarget(ctx context.Context, scheduleID string, at time.Time) error {
	return m.put(ctx, []kvRecord{{key: policy.MarkKeyTarget(scheduleID), val: []byte(wire.Stamp(at))}})
}

type kvRecord struct {
	key string
	val []byte
}

// put publishes every record asynchronously and then waits for all acks.
func (m *MarksKV) put(ctx context.Context, recs []kvRecord) error {
	ctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	for _, r := range recs {
		f, err := m.JS.PublishAsync("$KV."+wire.BucketDispatch+"."+r.key, r.val)
		if err != nil {
			return fmt.Errorf("write mark %s: %w", r.key, err)
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
		return fmt.Errorf("write marks: %d of %d failed: %w", len(errs), len(recs), errs[0])
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
