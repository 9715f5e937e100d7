// Package scheduler is the backend's cron scheduler (SPEC §4.3, §4.4): it
// keeps the schedules of KV schedules registered through a watch, and on
// every poll runs each one through the tick pipeline (dormant → job →
// deadline → decide → suppress → fire → decision log). Only the replica
// holding the KV lease fires.
//
// Everything it touches sits behind a small interface (Dispatcher, Fleet,
// Jobs, Marks, Ledger, clock.Clock), in the style of Nomad's periodic
// dispatcher, so a tick can be driven by a test without a cluster.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Defaults of Config.
const (
	DefaultPoll     = time.Minute
	DefaultKeep     = 500
	DefaultCatchUp  = 2 * time.Minute
	DefaultParallel = 8
)

// Config wires a Scheduler. Dispatcher, Fleet, Jobs and Schedules are
// required; the rest have defaults.
type Config struct {
	Dispatcher Dispatcher
	Fleet      Fleet
	Jobs       Jobs
	Marks      Marks   // nil: completion-only dedup
	Ledger     Ledger  // nil: no cross-replica minute record
	Results    Results // for Coverage; nil: every roster PC is pending
	// Schedules is KV schedules, watched for registrations.
	Schedules jetstream.KeyValue
	// Lease elects the firing replica; nil fires unconditionally (one
	// replica, or a test).
	Lease *Lease
	Clock clock.Clock   // default clock.Real
	Poll  time.Duration // default one minute; shorter only in tests
	Keep  int           // decision-log rows kept per schedule (default 500)
	// CatchUp is how late a calendar minute may still be fired: a minute
	// missed while the lease changed hands, the server restarted or a
	// dispatch failed is fired late rather than never. Default 2 min.
	CatchUp  time.Duration
	Parallel int // schedules ticked at once, default 8
	Log      *slog.Logger
	// OnTick, when set, sees every decision-log row (tests, metrics).
	OnTick func(store.Tick)
}

// Scheduler runs the registered schedules. Its methods are safe for
// concurrent use; it also implements api.ScheduleService.
type Scheduler struct {
	cfg Config
	reg *registry

	mu       sync.Mutex
	leaderCx context.Context
	stopLead context.CancelFunc
	cursor   map[string]time.Time // last calendar minute handled, per schedule
	kick     chan struct{}
}

// New checks cfg and applies defaults.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Dispatcher == nil || cfg.Fleet == nil || cfg.Jobs == nil {
		return nil, errors.New("scheduler: dispatcher, fleet and jobs are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Log = cfg.Log.With("component", "scheduler")
	s := &Scheduler{cfg: cfg, cursor: map[string]time.Time{}, kick: make(chan struct{}, 1)}
	s.reg = newRegistry(cfg.Log, cfg.Clock)
	return s, nil
}

// NewKV is New with the KV-backed parts (schedules watch, jobs, marks,
// ledger, lease) taken from js wherever cfg leaves them nil.
func NewKV(ctx context.Context, js jetstream.JetStream, cfg Config) (*Scheduler, error) {
	bucket := func(name string) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", name, err)
		}
		return kv, nil
	}
	var err error
	if cfg.Schedules == nil {
		if cfg.Schedules, err = bucket(wire.BucketSchedules); err != nil {
			return nil, err
		}
	}
	if cfg.Jobs == nil {
		kv, err := bucket(wire.BucketJobs)
		if err != nil {
			return nil, err
		}
		cfg.Jobs = JobsKV{KV: kv}
	}
	dispatch, err := bucket(wire.BucketDispatch)
	if err != nil {
		return nil, err
	}
	if cfg.Marks == nil {
		cfg.Marks = &MarksKV{JS: js, KV: dispatch}
	}
	if cfg.Ledger == nil {
		cfg.Ledger = LedgerKV{KV: dispatch}
	}
	if cfg.Lease == nil {
		kv, err := bucket(wire.BucketLease)
		if err != nil {
			return nil, err
		}
		cfg.Lease = &Lease{KV: kv, Log: cfg.Log}
	}
	return New(cfg)
}

// Run watches the schedules, keeps the lease and ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.cfg.Schedules == nil {
		return errors.New("scheduler: no schedules bucket to watch")
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(ctx) })
	if s.cfg.Lease != nil {
		wg.Go(func() { s.cfg.Lease.Run(ctx, s.setLeader) })
	} else {
		s.setLeader(true)
	}
	wg.Go(func() { s.loop(ctx) })
	wg.Wait()
	s.setLeader(false)
	return nil
}

// setLeader gives the firing side a context that dies with the lease, so
// a failed renewal cancels a tick in progress, not just the next one.
func (s *Scheduler) setLeader(held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopLead != nil {
		s.stopLead()
		s.leaderCx, s.stopLead = nil, nil
	}
	if !held {
		return
	}
	s.leaderCx, s.stopLead = context.WithCancel(context.Background())
	select {
	case s.kick <- struct{}{}: // a new leader ticks at once to catch up
	default:
	}
}

// leading returns the leader context, or nil when this replica must not fire.
func (s *Scheduler) leading() context.Context {
	s.mu.Lock()
	lc := s.leaderCx
	s.mu.Unlock()
	if lc == nil || (s.cfg.Lease != nil && !s.cfg.Lease.Held()) {
		return nil
	}
	return lc
}

// IsLeader reports whether this replica fires ticks now.
func (s *Scheduler) IsLeader() bool { return s.leading() != nil }

// loop ticks at every poll boundary (aligned, so ticks land just after
// the minute turns) and right after the lease is gained.
func (s *Scheduler) loop(ctx context.Context) {
	for {
		now := s.cfg.Clock.Now()
		next := now.Truncate(s.cfg.Poll).Add(s.cfg.Poll)
		fire, stop := s.cfg.Clock.Timer(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return
		case <-fire:
		case <-s.kick:
			stop()
		}
		lc := s.leading()
		if lc == nil {
			continue
		}
		tctx, cancel := mergeCancel(ctx, lc)
		s.TickAll(tctx, s.cfg.Clock.Now())
		cancel()
	}
}

// mergeCancel is ctx that also ends when other ends.
func mergeCancel(ctx, other context.Context) (context.Context, context.CancelFunc) {
	merged, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return merged, func() { stop(); cancel() }
}

// TickAll runs one tick of every registered schedule at now, several at
// once, and returns when all are done. It does not check the lease: Run
// does. Tests and harnesses call it directly to step time.
func (s *Scheduler) TickAll(ctx context.Context, now time.Time) []store.Tick {
	entries := s.reg.snapshot()
	var (
		mu  sync.Mutex
		out []store.Tick
		wg  sync.WaitGroup
	)
	sem := make(chan struct{}, s.cfg.Parallel)
	for _, e := range entries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t, ok := s.tick(ctx, e, now)
			if !ok {
				return
			}
			s.record(ctx, t)
			mu.Lock()
			out = append(out, t)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// record writes the decision log row. A failure is logged only: the
// fire (or skip) already happened and must not be redone.
func (s *Scheduler) record(ctx context.Context, t store.Tick) {
	if err := s.cfg.Fleet.InsertTick(context.WithoutCancel(ctx), t, s.cfg.Keep); err != nil {
		s.cfg.Log.Error("write decision log", "schedule", t.ScheduleID, "err", err)
	}
	if s.cfg.OnTick != nil {
		s.cfg.OnTick(t)
	}
}

// Registered lists the ids of the schedules registered now, sorted.
func (s *Scheduler) Registered() []string { return s.reg.ids() }

// Loaded is closed once the initial listing of KV schedules is in.
func (s *Scheduler) Loaded() <-chan struct{} { return s.reg.loaded }
