package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// dispatch is one recorded Exec call.
type dispatch struct {
	By      string // which scheduler instance
	Actor   string
	JobVer  string
	Plan    manifest.Plan
	ExecID  string
	Minute  time.Time
	Targets []string
}

// recorder is a Dispatcher that records every call; fail makes it refuse
// after accepting the first acceptFirst subjects (a publication that broke
// half-way).
type recorder struct {
	mu          sync.Mutex
	calls       []dispatch
	fail        bool
	acceptFirst int
	clk         clock.Clock
}

func (r *recorder) as(name string) Dispatcher { return &tagged{r: r, name: name} }

type tagged struct {
	r    *recorder
	name string
}

func (t *tagged) Dispatch(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string, accepted fanout.Accepted) (*fanout.Answer, error) {
	return t.r.exec(t.name, job, plan, actor, accepted)
}

func (r *recorder) Dispatch(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string, accepted fanout.Accepted) (*fanout.Answer, error) {
	return r.exec("", job, plan, actor, accepted)
}

// exec accepts every subject of the plan, as the broker would, unless the
// test says no.
func (r *recorder) exec(by string, job *manifest.Job, plan manifest.Plan, actor string, accepted fanout.Accepted) (*fanout.Answer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, subj := range fanout.Subjects(plan.Target) {
		if r.fail && i >= r.acceptFirst {
			return nil, fmt.Errorf("%w: test says no", fanout.ErrUnavailable)
		}
		if accepted != nil {
			accepted(subj)
		}
	}
	if r.fail {
		return nil, fmt.Errorf("%w: test says no", fanout.ErrUnavailable)
	}
	d := dispatch{By: by, Actor: actor, JobVer: job.Version, Plan: plan, ExecID: uuid.NewString(), Targets: plan.Target.PCs}
	if r.clk != nil {
		d.Minute = r.clk.Now().Truncate(time.Minute)
	}
	r.calls = append(r.calls, d)
	return &fanout.Answer{ExecID: d.ExecID, JobID: job.ID, Version: job.Version, TargetCount: max(1, len(plan.Target.PCs))}, nil
}

func (r *recorder) all() []dispatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

// pcsFired counts, per PC, how often it was in a PC-subset dispatch.
func (r *recorder) pcsFired() map[string]int {
	out := map[string]int{}
	for _, d := range r.all() {
		for _, pc := range d.Targets {
			out[pc]++
		}
	}
	return out
}

// env is a real broker, a real SQLite store, a fake clock and a recorder.
type env struct {
	t      *testing.T
	ctx    context.Context
	b      *testutil.Broker
	st     *store.Store
	clk    *clock.Fake
	rec    *recorder
	jobs   jetstream.KeyValue
	scheds jetstream.KeyValue
}

var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	b := testutil.RunJetStream(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "kanade.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := clock.NewFake(t0)
	e := &env{t: t, ctx: ctx, b: b, st: st, clk: clk, rec: &recorder{clk: clk}}
	if e.jobs, err = b.JS.KeyValue(ctx, wire.BucketJobs); err != nil {
		t.Fatal(err)
	}
	if e.scheds, err = b.JS.KeyValue(ctx, wire.BucketSchedules); err != nil {
		t.Fatal(err)
	}
	return e
}

// scheduler builds a Scheduler on the env without a lease; its watch runs
// but its loop does not: tests step ticks with TickAll.
func (e *env) scheduler() *Scheduler {
	e.t.Helper()
	s, err := NewKV(e.ctx, e.b.JS, Config{
		Dispatcher: e.rec, Fleet: e.st, Results: StoreResults{Store: e.st},
		Clock: e.clk, Keep: 50, Log: testLog(e.t),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	s.cfg.Lease = nil
	go s.watch(e.ctx)
	select {
	case <-s.Loaded():
	case <-time.After(10 * time.Second):
		e.t.Fatal("initial listing never completed")
	}
	return s
}

func (e *env) putJob(id, version string, timeout time.Duration) {
	e.t.Helper()
	j := manifest.Job{ID: id, Version: version, Execute: manifest.Execute{
		Shell: "sh", Script: "echo " + version, Timeout: manifest.Duration(timeout)}}
	data, _ := json.Marshal(j)
	if _, err := e.jobs.Put(e.ctx, id, data); err != nil {
		e.t.Fatal(err)
	}
}

// putSchedule stores a schedule written as YAML, validated like the API does.
func (e *env) putSchedule(yaml string) *manifest.Schedule {
	e.t.Helper()
	s, err := manifest.DecodeSchedule([]byte(yaml))
	if err != nil {
		e.t.Fatalf("decode schedule: %v", err)
	}
	data, _ := json.Marshal(s)
	if _, err := e.scheds.Put(e.ctx, s.ID, data); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// waitRegistered waits until the scheduler's registration of id satisfies ok.
func (e *env) waitRegistered(s *Scheduler, id string, ok func(*entry) bool) {
	e.t.Helper()
	testutil.CheckFor(e.t, 10*time.Second, 10*time.Millisecond, func() error {
		s.reg.mu.Lock()
		en := s.reg.entries[id]
		s.reg.mu.Unlock()
		if ok(en) {
			return nil
		}
		return errors.New("registration of " + id + " not as expected")
	})
}

func registered(en *entry) bool   { return en != nil }
func unregistered(en *entry) bool { return en == nil }

// beat makes pcs online now.
func (e *env) beat(pcs ...string) {
	e.t.Helper()
	hbs := make([]wire.Heartbeat, len(pcs))
	for i, pc := range pcs {
		hbs[i] = wire.Heartbeat{PCID: pc, At: e.clk.Now()}
	}
	if err := e.st.UpsertHeartbeats(e.ctx, hbs); err != nil {
		e.t.Fatal(err)
	}
}

// finish projects a result of job on pc, finished at at.
func (e *env) finish(job, pc string, at time.Time, exit int) {
	e.t.Helper()
	r := wire.ExecResult{ResultID: uuid.NewString(), RequestID: uuid.NewString(), ExecID: uuid.NewString(),
		JobID: job, PCID: pc, ExitCode: exit, StartedAt: at.Add(-time.Second), FinishedAt: at}
	if _, err := e.st.Apply(e.ctx, &store.Batch{Results: []store.ResultMsg{{ExecResult: r, RecordedAt: at}}}); err != nil {
		e.t.Fatal(err)
	}
}

// tickAt moves the clock to at and runs one tick of every schedule.
func (e *env) tickAt(s *Scheduler, at time.Time) []store.Tick {
	e.clk.Set(at)
	return s.TickAll(e.ctx, at)
}

// only returns the single row of id among rows (failing otherwise).
func (e *env) only(rows []store.Tick, id string) store.Tick {
	e.t.Helper()
	var got []store.Tick
	for _, r := range rows {
		if r.ScheduleID == id {
			got = append(got, r)
		}
	}
	if len(got) != 1 {
		e.t.Fatalf("want one tick row of %s, got %+v", id, got)
	}
	return got[0]
}

func expectRow(t *testing.T, got store.Tick, action, reason string) {
	t.Helper()
	if got.Action != action || got.Reason != reason {
		t.Fatalf("tick %s at %s: got %s/%s, want %s/%s (%+v)", got.ScheduleID, got.TickAt.Format(time.RFC3339),
			got.Action, got.Reason, action, reason, got)
	}
}
