package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaseKey is the single key of KV scheduler_lease.
const LeaseKey = "leader"

// DefaultLeaseTTL matches the bucket TTL set up by internal/bus.
const DefaultLeaseTTL = 15 * time.Second

// Lease elects the one replica that runs the scheduler. The value carries
// its own expiry, so a holder that stopped renewing is replaced after TTL
// even if the bucket's own max age is longer; the bucket TTL remains the
// backstop for a value nobody can parse. Expiry is judged by the
// contender's wall clock, so replicas need roughly synchronized clocks
// (seconds of skew only shorten or lengthen a hand-over).
type Lease struct {
	KV     jetstream.KeyValue
	Holder string        // default: a fresh UUID
	TTL    time.Duration // default DefaultLeaseTTL
	Log    *slog.Logger

	mu         sync.Mutex
	rev        uint64
	validUntil time.Time // zero when not held
}

type leaseValue struct {
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Held reports whether this replica holds the lease right now. It turns
// false as soon as the last renewal is older than the TTL, even before the
// renew loop notices, so a stalled replica never fires on a stale lease.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.validUntil)
}

// Run acquires and renews the lease until ctx ends, calling
// onChange on every gain or loss, then releases it so a peer takes over
// at once instead of after a TTL.
func (l *Lease) Run(ctx context.Context, onChange func(held bool)) {
	l.defaults()
	held := false
	for {
		now := l.step(ctx, held)
		if now != held {
			held = now
			l.Log.Info("scheduler lease", "held", held, "holder", l.Holder)
			onChange(held)
		}
		select {
		case <-ctx.Done():
			if held {
				l.release()
				onChange(false)
			}
			return
		case <-time.After(l.interval(held)):
		}
	}
}

func (l *Lease) defaults() {
	if l.Holder == "" {
		l.Holder = uuid.NewString()
	}
	if l.TTL <= 0 {
		l.TTL = DefaultLeaseTTL
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
}

// interval renews at TTL/3 (two renewals may fail before the lease
// lapses) and lets a contender look at least every second, so a released
// lease is taken over at once whatever the TTL.
func (l *Lease) interval(held bool) time.Duration {
	if held {
		return l.TTL / 3
	}
	return min(l.TTL/3, time.Second)
}

// step renews a held lease or tries to take a free or expired one, and
// reports whether the lease is held afterwards.
func (l *Lease) step(ctx context.Context, held bool) bool {
	ctx, cancel := context.WithTimeout(ctx, l.TTL/3)
	defer cancel()
	now := time.Now()
	val, _ := json.Marshal(leaseValue{Holder: l.Holder, ExpiresAt: now.Add(l.TTL)})
	if held {
		rev, err := l.KV.Update(ctx, LeaseKey, val, l.currentRev())
		if err != nil {
			l.Log.Warn("scheduler lease renewal failed; stopping", "err", err)
			l.set(0, time.Time{})
			return false
		}
		l.set(rev, now.Add(l.TTL))
		return true
	}
	rev, err := l.acquire(ctx, val, now)
	if err != nil {
		return false
	}
	l.set(rev, now.Add(l.TTL))
	return true
}

func (l *Lease) acquire(ctx context.Context, val []byte, now time.Time) (uint64, error) {
	e, err := l.KV.Get(ctx, LeaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return l.KV.Create(ctx, LeaseKey, val)
	}
	if err != nil {
		return 0, err
	}
	var cur leaseValue
	if json.Unmarshal(e.Value(), &cur) == nil && cur.Holder != l.Holder && now.Before(cur.ExpiresAt) {
		return 0, errors.New("lease held by " + cur.Holder)
	}
	return l.KV.Update(ctx, LeaseKey, val, e.Revision())
}

func (l *Lease) release() {
	rev := l.currentRev()
	l.set(0, time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	if err := l.KV.Delete(ctx, LeaseKey, jetstream.LastRevision(rev)); err != nil {
		l.Log.Warn("release scheduler lease", "err", err)
	}
}

func (l *Lease) set(rev uint64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.validUntil = rev, until
}

func (l *Lease) currentRev() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}
