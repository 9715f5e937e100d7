package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/audit"
	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/scheduler"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// TickConfig sizes the scheduler tick benchmark: a once_per_pc schedule on
// target all.
type TickConfig struct {
	PCs       int // online PCs (10 000)
	Completed int // PCs with a success of the job (5 000): not armed
	Marked    int // armed PCs with a fresh dispatch mark (2 000): suppressed
	Ticks     int // ticks measured (5)
	Dir       string
}

func (c TickConfig) withDefaults() TickConfig {
	if c.PCs <= 0 {
		c.PCs = 10_000
	}
	if c.Completed <= 0 {
		c.Completed = c.PCs / 2
	}
	if c.Marked <= 0 {
		c.Marked = c.PCs / 5
	}
	if c.Ticks <= 0 {
		c.Ticks = 5
	}
	return c
}

// TickReport holds per-tick wall times and the one decision every tick
// must reach.
type TickReport struct {
	Config   TickConfig
	Ticks    []time.Duration // whole tick: reads, decide, marks, dispatch, decision log
	Dispatch []time.Duration // the fan-out call inside each tick
	Row      store.Tick      // the last decision-log row
}

func sortedCopy(d []time.Duration) []time.Duration {
	out := slices.Clone(d)
	slices.Sort(out)
	return out
}

// Median and Max are over the measured ticks.
func (r TickReport) Median() time.Duration { return percentile(sortedCopy(r.Ticks), 50) }
func (r TickReport) Max() time.Duration    { return slices.Max(r.Ticks) }

// MedianDispatch is the median fan-out share of a tick.
func (r TickReport) MedianDispatch() time.Duration { return percentile(sortedCopy(r.Dispatch), 50) }

func (r TickReport) String() string {
	c := r.Config
	return fmt.Sprintf("scheduler tick: per_pc on all, %d online PCs, %d completed, %d freshly marked\n"+
		"  decision         expected %d armed %d suppressed %d fired %d (%s)\n"+
		"  tick median      %v  max %v over %d ticks  (goal <= 100ms; ratio %.2f)\n"+
		"  of which fan-out %v median (publish %d commands.pc.* + executions row)\n",
		c.PCs, c.Completed, c.Marked, r.Row.Expected, r.Row.Armed, r.Row.Suppressed, r.Row.Fired, r.Row.Action,
		r.Median().Round(time.Microsecond), r.Max().Round(time.Microsecond), len(r.Ticks),
		float64(r.Median())/float64(100*time.Millisecond),
		r.MedianDispatch().Round(time.Microsecond), r.Row.Fired)
}

const (
	tickSchedule = "bench-per-pc"
	tickJob      = "bench-tick-job"
	// tickStep spaces the measured ticks: longer than the suppression
	// window (timeout 60s + 90s), so the marks a tick writes do not
	// suppress the next tick, and each tick sees the same fleet state.
	tickStep = 10 * time.Minute
)

// RunTick measures cfg.Ticks ticks of one once_per_pc schedule with the
// real scheduler (KV marks and ledger), the real SQLite store and the real
// fan-out, and checks each tick's decision.
func RunTick(ctx context.Context, cfg TickConfig) (TickReport, error) {
	cfg = cfg.withDefaults()
	rep := TickReport{Config: cfg}
	dir, cleanup, err := workDir(cfg.Dir)
	if err != nil {
		return rep, err
	}
	defer cleanup()
	b, err := startBroker(ctx, dir+"/nats")
	if err != nil {
		return rep, err
	}
	defer b.close()
	st, _, err := openStore(dir, "tick.db")
	if err != nil {
		return rep, err
	}
	defer st.Close()
	start := benchEpoch.Add(time.Hour)
	if err := seedTickFleet(ctx, b, st, cfg, start); err != nil {
		return rep, err
	}
	disp := &timedDispatcher{next: &fanout.Fanout{JS: b.js, Store: st, Audit: &audit.Publisher{JS: b.js},
		Log: quietLog()}}
	s, stop, err := startScheduler(ctx, b, st, disp, start)
	if err != nil {
		return rep, err
	}
	defer stop()
	for i := range cfg.Ticks {
		if err := oneTick(ctx, b, st, s, disp, cfg, start.Add(time.Duration(i)*tickStep), &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seedTickFleet writes the job and schedule to KV and the completions to
// SQLite: PCs [0, Completed) succeeded once, so they never re-arm.
func seedTickFleet(ctx context.Context, b *broker, st *store.Store, cfg TickConfig, at time.Time) error {
	job := manifest.Job{ID: tickJob, Version: "1", Execute: manifest.Execute{Shell: "sh", Script: "true",
		Timeout: manifest.Duration(time.Minute)}}
	sched, err := manifest.DecodeSchedule([]byte("id: " + tickSchedule + "\njob_id: " + tickJob +
		"\nwhen: {per_pc: once}\ntarget: {all: true}\n"))
	if err != nil {
		return fmt.Errorf("decode schedule: %w", err)
	}
	if err := kvPutJSON(ctx, b.js, wire.BucketJobs, tickJob, job); err != nil {
		return err
	}
	if err := kvPutJSON(ctx, b.js, wire.BucketSchedules, tickSchedule, sched); err != nil {
		return err
	}
	batch := &store.Batch{}
	for i := range cfg.Completed {
		pc := pcName(i)
		batch.Results = append(batch.Results, store.ResultMsg{RecordedAt: at.Add(-time.Hour),
			ExecResult: wire.ExecResult{ResultID: "done-" + pc, ExecID: "seed", JobID: tickJob, PCID: pc,
				StartedAt: at.Add(-time.Hour), FinishedAt: at.Add(-time.Hour)}})
	}
	if _, err := st.Apply(ctx, batch); err != nil {
		return fmt.Errorf("seed completions: %w", err)
	}
	return nil
}

func kvPutJSON(ctx context.Context, js jetstream.JetStream, bucket, key string, v any) error {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// noLease is a lease bucket that never answers, so the scheduler's own
// loop never leads and every tick measured is one the benchmark asked for.
type noLease struct{ jetstream.KeyValue }

func (noLease) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, errors.New("bench: lease disabled, ticks are driven by TickAll")
}

// startScheduler runs the real KV-backed scheduler (watch, marks, ledger)
// without leadership and waits until the schedule is registered.
func startScheduler(ctx context.Context, b *broker, st *store.Store, d scheduler.Dispatcher, at time.Time) (*scheduler.Scheduler, func(), error) {
	s, err := scheduler.NewKV(ctx, b.js, scheduler.Config{Dispatcher: d, Fleet: st,
		Lease: &scheduler.Lease{KV: noLease{}, Log: quietLog()}, Clock: clock.NewFake(at), Log: quietLog()})
	if err != nil {
		return nil, nil, fmt.Errorf("scheduler: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Run(runCtx) })
	stop := func() { cancel(); wg.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(s.Registered(), tickSchedule) {
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("schedule never registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s, stop, nil
}

// oneTick refreshes heartbeats and the fresh marks at now (not timed),
// then times one TickAll and checks its decision.
func oneTick(ctx context.Context, b *broker, st *store.Store, s *scheduler.Scheduler, d *timedDispatcher,
	cfg TickConfig, now time.Time, rep *TickReport) error {
	if err := prepareTick(ctx, b, st, cfg, now); err != nil {
		return err
	}
	d.reset()
	t0 := time.Now()
	rows := s.TickAll(ctx, now)
	elapsed := time.Since(t0)
	if len(rows) != 1 {
		return fmt.Errorf("tick at %v logged %d rows, want 1", now, len(rows))
	}
	row := rows[0]
	armed := cfg.PCs - cfg.Completed
	if row.Action != "fired_pcs" || row.Expected != cfg.PCs || row.Armed != armed ||
		row.Suppressed != cfg.Marked || row.Fired != armed-cfg.Marked {
		return fmt.Errorf("tick at %v: got %+v, want fired_pcs expected %d armed %d suppressed %d fired %d",
			now, row, cfg.PCs, armed, cfg.Marked, armed-cfg.Marked)
	}
	rep.Ticks = append(rep.Ticks, elapsed)
	rep.Dispatch = append(rep.Dispatch, d.took())
	rep.Row = row
	return nil
}

// prepareTick makes every PC online at now and gives PCs [Completed,
// Completed+Marked) a dispatch mark 30 s old (fresh: the window is 150 s).
func prepareTick(ctx context.Context, b *broker, st *store.Store, cfg TickConfig, now time.Time) error {
	hbs := make([]wire.Heartbeat, cfg.PCs)
	marked := make([]string, 0, cfg.Marked)
	for i := range cfg.PCs {
		hbs[i] = wire.Heartbeat{PCID: pcName(i), Hostname: pcName(i), OS: "linux", At: now}
		if i >= cfg.Completed && i < cfg.Completed+cfg.Marked {
			marked = append(marked, pcName(i))
		}
	}
	if err := st.UpsertHeartbeats(ctx, hbs); err != nil {
		return fmt.Errorf("heartbeats: %w", err)
	}
	kv, err := b.js.KeyValue(ctx, wire.BucketDispatch)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", wire.BucketDispatch, err)
	}
	marks := &scheduler.MarksKV{JS: b.js, KV: kv}
	if err := marks.WritePCs(ctx, tickSchedule, marked, now.Add(-30*time.Second)); err != nil {
		return fmt.Errorf("seed marks: %w", err)
	}
	return nil
}

// timedDispatcher measures the fan-out share of a tick.
type timedDispatcher struct {
	next scheduler.Dispatcher
	mu   sync.Mutex
	d    time.Duration
}

func (t *timedDispatcher) Dispatch(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string, accepted fanout.Accepted) (*fanout.Answer, error) {
	start := time.Now()
	a, err := t.next.Dispatch(ctx, job, plan, actor, accepted)
	t.mu.Lock()
	t.d += time.Since(start)
	t.mu.Unlock()
	return a, err
}

func (t *timedDispatcher) reset() {
	t.mu.Lock()
	t.d = 0
	t.mu.Unlock()
}

func (t *timedDispatcher) took() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.d
}
