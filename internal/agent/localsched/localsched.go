// Package localsched ticks `runs_on: agent` schedules on the agent itself
// (SPEC §3.3, §5). It mirrors KV schedules and jobs into a file under the
// agent's data dir, so it keeps firing while the broker is unreachable and
// across restarts, and it decides with the same lowering and policy code
// as the backend scheduler, over this PC's own completions.
package localsched

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/wire"
)

// ActorPrefix + schedule id is the actor of every locally fired command.
const ActorPrefix = "agent-schedule:"

// Defaults of Config.
const (
	DefaultPoll    = time.Minute
	DefaultCatchUp = 2 * time.Minute
	// DefaultMaxInFlight bounds how long a run that never reported back
	// blocks its schedule; the policy window applies on top of it.
	DefaultMaxInFlight = time.Hour
)

// Config wires a Ticker into an agent.
type Config struct {
	PCID    string
	DataDir string // the agent's data dir; state goes to <DataDir>/localsched/
	// Groups returns the agent's current groups (they change live).
	Groups func() []string
	// Run receives every command fired; it must not block for long (the
	// agent queues it on its normal path: seen check, deadline, jitter,
	// started event, outbox).
	Run func(wire.Command)
	// JS reaches KV schedules and jobs; nil ticks from the cache only.
	JS          jetstream.JetStream
	Clock       clock.Clock   // default clock.Real
	Poll        time.Duration // default one minute
	CatchUp     time.Duration // how late a calendar minute may still fire; default 2 min
	MaxInFlight time.Duration // default 1 h
	Log         *slog.Logger
}

// Ticker runs the agent-side schedules of one PC.
type Ticker struct {
	cfg  Config
	path string

	mu      sync.Mutex
	st      *state
	allJobs map[string]json.RawMessage // every job seen on the watch, cached or not
	loaded  map[string]chan struct{}   // bucket → closed after its first listing

	loadedOnce map[string]*sync.Once
}

// New loads the cached state from disk; it does not touch the network.
func New(cfg Config) (*Ticker, error) {
	if cfg.PCID == "" || cfg.DataDir == "" || cfg.Run == nil {
		return nil, errors.New("localsched: pc id, data dir and run are required")
	}
	if cfg.Groups == nil {
		cfg.Groups = func() []string { return nil }
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Log = cfg.Log.With("component", "localsched")
	t := &Ticker{
		cfg: cfg, path: filepath.Join(cfg.DataDir, "localsched", "state.json"),
		allJobs: map[string]json.RawMessage{},
		loaded: map[string]chan struct{}{
			wire.BucketSchedules: make(chan struct{}), wire.BucketJobs: make(chan struct{}),
		},
		loadedOnce: map[string]*sync.Once{wire.BucketSchedules: {}, wire.BucketJobs: {}},
	}
	st, err := loadState(t.path)
	if err != nil {
		cfg.Log.Error("local schedule cache unreadable; starting empty", "err", err)
	}
	t.st = st
	for id, raw := range st.Jobs {
		t.allJobs[id] = raw
	}
	return t, nil
}

// Run watches the buckets (when JS is set) and ticks until ctx ends.
func (t *Ticker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if t.cfg.JS != nil {
		wg.Go(func() { t.watch(ctx, wire.BucketSchedules, t.applySchedule) })
		wg.Go(func() { t.watch(ctx, wire.BucketJobs, t.applyJob) })
	}
	wg.Go(func() { t.loop(ctx) })
	wg.Wait()
	return nil
}

// Loaded is closed once the first listing of bucket has been applied.
func (t *Ticker) Loaded(bucket string) <-chan struct{} { return t.loaded[bucket] }

// Schedules lists the cached agent-side schedule ids, sorted.
func (t *Ticker) Schedules() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.st.Schedules))
	for id := range t.st.Schedules {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Completed records the end of a run: a success feeds the policy, and
// either way the schedule's own run no longer counts as running (the
// policy window still holds back a failed one, as on the backend).
func (t *Ticker) Completed(scheduleID, jobID string, at time.Time, success bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.completed(scheduleID, jobID, "", at, success)
	t.saveLocked()
}

// ObserveResult lets the agent hand over every result it produces: one of
// this ticker's runs is matched by exec id, and any success of a job that
// an agent schedule uses counts as a completion, as it does on the backend.
func (t *Ticker) ObserveResult(r wire.ExecResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	scheduleID := ""
	for id, m := range t.st.Runs {
		if m.ExecID == r.ExecID {
			scheduleID = id
		}
	}
	if scheduleID == "" && !t.usesJob(r.JobID) {
		return
	}
	t.completed(scheduleID, r.JobID, r.ExecID, r.FinishedAt, r.Succeeded())
	t.saveLocked()
}

func (t *Ticker) completed(scheduleID, jobID, execID string, at time.Time, success bool) {
	if success && at.After(t.st.Successes[jobID]) {
		t.st.Successes[jobID] = at
	}
	m, ok := t.st.Runs[scheduleID]
	if ok && (execID == "" || m.ExecID == execID) {
		m.Done = true
		t.st.Runs[scheduleID] = m
	}
}

func (t *Ticker) usesJob(jobID string) bool {
	for _, raw := range t.st.Schedules {
		if s, err := manifest.ReadSchedule(raw); err == nil && s.JobID == jobID {
			return true
		}
	}
	return false
}

func (t *Ticker) saveLocked() {
	if err := t.st.save(t.path); err != nil {
		t.cfg.Log.Error("save local schedule state", "err", err)
	}
}

// loop ticks at every poll boundary until ctx ends.
func (t *Ticker) loop(ctx context.Context) {
	for {
		now := t.cfg.Clock.Now()
		next := now.Truncate(t.cfg.Poll).Add(t.cfg.Poll)
		fire, stop := t.cfg.Clock.Timer(next.Sub(now))
		select {
		case <-ctx.Done():
			stop()
			return
		case <-fire:
		}
		t.Tick(t.cfg.Clock.Now())
	}
}
