package localsched

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

var t0 = time.Date(2026, 12, 3, 8, 0, 30, 0, time.UTC)

// sink collects what the ticker hands to the agent.
type sink struct {
	mu   sync.Mutex
	cmds []wire.Command
}

func (s *sink) run(c wire.Command) {
	s.mu.Lock()
	s.cmds = append(s.cmds, c)
	s.mu.Unlock()
}

func (s *sink) all() []wire.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cmds)
}

type rig struct {
	t      *testing.T
	b      *testutil.Broker
	clk    *clock.Fake
	dir    string
	groups []string
}

func newRig(t *testing.T) *rig {
	return &rig{t: t, b: testutil.RunJetStream(t), clk: clock.NewFake(t0), dir: t.TempDir()}
}

func (r *rig) put(bucket, key string, v any) {
	r.t.Helper()
	kv, err := r.b.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		r.t.Fatal(err)
	}
	data, _ := json.Marshal(v)
	if _, err := kv.Put(context.Background(), key, data); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) putJob(id, version string) {
	r.put(wire.BucketJobs, id, manifest.Job{ID: id, Version: version, Execute: manifest.Execute{
		Shell: "sh", Script: "true", Timeout: manifest.Duration(time.Minute)}})
}

func (r *rig) putSchedule(yaml string) {
	r.t.Helper()
	s, err := manifest.DecodeSchedule([]byte(yaml))
	if err != nil {
		r.t.Fatal(err)
	}
	r.put(wire.BucketSchedules, s.ID, s)
}

// start runs a ticker for pc "me"; withBroker false means cache only.
func (r *rig) start(withBroker bool) (*Ticker, *sink) {
	r.t.Helper()
	out := &sink{}
	cfg := Config{
		PCID: "me", DataDir: r.dir, Run: out.run, Clock: r.clk,
		Groups: func() []string { return r.groups },
		Log:    slog.New(slog.NewTextHandler(r.t.Output(), nil)),
	}
	if withBroker {
		cfg.JS = r.b.JS
	}
	tk, err := New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tk.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done })
	return tk, out
}

func (r *rig) waitCached(tk *Ticker, ids ...string) {
	r.t.Helper()
	testutil.CheckFor(r.t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := tk.Schedules(); !slices.Equal(got, ids) {
			return fmt.Errorf("cached %v, want %v", got, ids)
		}
		return nil
	})
}

// step moves the clock to at once the loop is parked, and waits until
// the sink holds want commands.
func (r *rig) step(out *sink, at time.Time, want int) {
	r.t.Helper()
	testutil.CheckFor(r.t, 10*time.Second, 5*time.Millisecond, func() error {
		if r.clk.Waiters() != 1 {
			return fmt.Errorf("loop not parked")
		}
		return nil
	})
	r.clk.Set(at)
	testutil.CheckFor(r.t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := len(out.all()); n != want {
			return fmt.Errorf("%d commands, want %d", n, want)
		}
		return nil
	})
	// Let the loop finish the tick before the caller asserts "nothing more".
	testutil.CheckFor(r.t, 10*time.Second, 5*time.Millisecond, func() error {
		if r.clk.Waiters() != 1 {
			return fmt.Errorf("loop not parked")
		}
		return nil
	})
}

func TestCachedScheduleFiresAndKeepsFiringWithoutBroker(t *testing.T) {
	r := newRig(t)
	r.putJob("j", "1")
	r.putSchedule("id: s\njob_id: j\nwhen: {per_pc: {every: 1h}}\ntarget: {groups: [office]}\nruns_on: agent\nstarting_deadline: 5m\n")
	r.putSchedule("id: backend\njob_id: j\nwhen: {per_pc: once}\ntarget: {all: true}\n")
	r.putSchedule("id: other\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [someone-else]}\nruns_on: agent\n")
	r.groups = []string{"office"}
	tk, out := r.start(true)
	r.waitCached(tk, "other", "s")
	<-tk.Loaded(wire.BucketJobs)

	minute := time.Minute
	r.step(out, t0.Add(minute), 1)
	c := out.all()[0]
	if c.Actor != "agent-schedule:s" || c.JobID != "j" || c.Version != "1" || c.RequestID == "" || c.ExecID == "" ||
		!slices.Equal(c.PCs, []string{"me"}) {
		t.Fatalf("command %+v", c)
	}
	if c.DeadlineAt == nil || !c.DeadlineAt.Equal(t0.Add(minute+5*minute)) {
		t.Fatalf("deadline_at %v", c.DeadlineAt)
	}
	// In flight: no completion yet, no re-fire.
	r.step(out, t0.Add(2*minute), 1)
	r.step(out, t0.Add(5*minute), 1)
	tk.Completed("s", "j", t0.Add(5*minute), true)
	r.step(out, t0.Add(30*minute), 1) // cooling down

	// The broker goes away; the cached schedule keeps firing.
	r.b.NC.Close()
	r.b.Server.Shutdown()
	r.step(out, t0.Add(5*minute+time.Hour), 2)
	second := out.all()[1]
	if second.ExecID == c.ExecID || second.RequestID == c.RequestID {
		t.Fatal("every fire needs fresh ids")
	}
	tk.ObserveResult(wire.ExecResult{ExecID: second.ExecID, JobID: "j", PCID: "me", FinishedAt: t0.Add(70 * minute)})
	r.step(out, t0.Add(80*minute), 2)
	r.step(out, t0.Add(70*minute+time.Hour), 3)
}

func TestRestartFromDiskCacheWithoutBroker(t *testing.T) {
	r := newRig(t)
	r.putJob("j", "7")
	r.putSchedule("id: s\njob_id: j\nwhen: {per_pc: {every: 1h}}\ntarget: {pcs: [me]}\nruns_on: agent\n")
	r.putSchedule("id: cal\njob_id: j\nwhen: {calendar: {at: \"09:00\"}}\ntz: utc\ntarget: {all: true}\nruns_on: agent\n")
	tk, out := r.start(true)
	r.waitCached(tk, "cal", "s")
	<-tk.Loaded(wire.BucketJobs)
	r.step(out, t0.Add(time.Minute), 1)
	tk.Completed("s", "j", t0.Add(2*time.Minute), true)

	nine := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	r.step(out, nine, 2) // the calendar fires
	r.b.NC.Close()
	r.b.Server.Shutdown()

	// A new process on the same data dir, no broker at all: the cache,
	// the completion history and the calendar cursor all survive.
	r.clk = clock.NewFake(nine.Add(30 * time.Second))
	tk2, out2 := r.start(false)
	if got := tk2.Schedules(); !slices.Equal(got, []string{"cal", "s"}) {
		t.Fatalf("restored %v", got)
	}
	r.step(out2, nine.Add(time.Minute), 0) // 09:00 already fired; s still cooling down
	r.step(out2, t0.Add(2*time.Minute+time.Hour), 1)
	c := out2.all()[0]
	if c.Actor != "agent-schedule:s" || c.Version != "7" {
		t.Fatalf("restored fire %+v", c)
	}
	tk2.Completed("s", "j", t0.Add(3*time.Minute+time.Hour), true)
	r.step(out2, nine.Add(24*time.Hour), 3) // the calendar's next day, and s re-armed
	var actors []string
	for _, c := range out2.all()[1:] {
		actors = append(actors, c.Actor)
	}
	slices.Sort(actors)
	if !slices.Equal(actors, []string{"agent-schedule:cal", "agent-schedule:s"}) {
		t.Fatalf("fired after restart: %v", actors)
	}
}

func TestTargetingFollowsGroupsAndKVChanges(t *testing.T) {
	r := newRig(t)
	r.putJob("j", "1")
	r.putSchedule("id: g\njob_id: j\nwhen: {per_pc: once}\ntarget: {groups: [lab]}\nruns_on: agent\n")
	tk, out := r.start(true)
	r.waitCached(tk, "g")
	<-tk.Loaded(wire.BucketJobs)
	r.step(out, t0.Add(time.Minute), 0) // not in lab
	r.groups = []string{"lab"}
	r.step(out, t0.Add(2*time.Minute), 1)
	tk.Completed("g", "j", t0.Add(2*time.Minute), true)
	r.step(out, t0.Add(time.Hour), 1) // once: never again

	// Moving the schedule to the backend removes it from the agent.
	r.putSchedule("id: g\njob_id: j\nwhen: {per_pc: once}\ntarget: {groups: [lab]}\n")
	r.waitCached(tk)
}

func TestFailedRunRefiresOnlyAfterTheWindow(t *testing.T) {
	r := newRig(t)
	r.putJob("j", "1") // window = 1m timeout + 90s = 2m30s
	r.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [me]}\nruns_on: agent\n")
	tk, out := r.start(true)
	r.waitCached(tk, "s")
	<-tk.Loaded(wire.BucketJobs)
	r.step(out, t0.Add(time.Minute), 1)
	exec := out.all()[0].ExecID
	tk.ObserveResult(wire.ExecResult{ExecID: exec, JobID: "j", PCID: "me", ExitCode: 1, FinishedAt: t0.Add(90 * time.Second)})
	r.step(out, t0.Add(3*time.Minute), 1)
	r.step(out, t0.Add(3*time.Minute+30*time.Second), 2)
}
