package bench

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

// FanoutResult is one exec-to-all round trip, with its phases measured
// from the moment the API call was made.
type FanoutResult struct {
	Agents    int
	ExecID    string
	Publish   time.Duration // API answered (command published, row inserted)
	Delivery  time.Duration // every agent's started event seen on the broker
	Results   time.Duration // every result seen on the broker
	Projected time.Duration // execution completed in SQLite, all results projected
	Execution store.Execution
	// Incomplete is set when the execution did not complete within the
	// round's timeout; Projected is then the time waited.
	Incomplete bool
	// Duplicates counts agents that produced more than one result_id
	// for the exec: a command that ran twice.
	Duplicates int
	// CPU is the CPU time each watched process tree used during the
	// round (Fanout.Procs), e.g. "server" and "swarm".
	CPU map[string]time.Duration
}

// CPUFloor is the round time the measured CPU allows at best: all of it
// spread evenly over every core of the box.
func (r FanoutResult) CPUFloor(cores int) time.Duration {
	var sum time.Duration
	for _, d := range r.CPU {
		sum += d
	}
	return sum / time.Duration(max(cores, 1))
}

// Total is the round trip the goal is about.
func (r FanoutResult) Total() time.Duration { return r.Projected }

func (r FanoutResult) String() string {
	e := r.Execution
	s := fmt.Sprintf("fanout agents=%d total=%s publish=%s delivery=%s results=%s projected=%s status=%s target=%d running=%d succeeded=%d failed=%d duplicates=%d",
		r.Agents, ms(r.Projected), ms(r.Publish), ms(r.Delivery), ms(r.Results), ms(r.Projected),
		e.Status, e.TargetCount, e.Running, e.Succeeded, e.Failed, r.Duplicates)
	for _, name := range slices.Sorted(maps.Keys(r.CPU)) {
		d := r.CPU[name]
		s += fmt.Sprintf(" cpu_%s=%s (%dµs/agent)", name, ms(d), d.Microseconds()/int64(max(r.Agents, 1)))
	}
	if len(r.CPU) > 0 {
		s += fmt.Sprintf(" cpu_floor=%s (all of it over %d cores)", ms(r.CPUFloor(runtime.NumCPU())), runtime.NumCPU())
	}
	if r.Incomplete {
		s += " INCOMPLETE(execution not completed within the round timeout)"
	}
	return s
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// watch counts started events and results per exec as they cross the
// broker (a core subscription sees JetStream publishes too), and records
// when each count reached the fleet size.
type watch struct {
	mu      sync.Mutex
	want    int
	start   time.Time
	started map[string]map[string]bool            // exec → pc
	results map[string]map[string]map[string]bool // exec → pc → result ids
	done    map[string]map[string]time.Duration   // exec → phase → elapsed
	subs    []*nats.Subscription
}

func newWatch(nc *nats.Conn, want int) (*watch, error) {
	w := &watch{want: want, started: map[string]map[string]bool{},
		results: map[string]map[string]map[string]bool{}, done: map[string]map[string]time.Duration{}}
	for _, subj := range []string{"events.started.*.*", "results.*.*"} {
		sub, err := nc.Subscribe(subj, w.onMsg)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", subj, err)
		}
		// A fleet's burst must not be dropped as a slow consumer.
		_ = sub.SetPendingLimits(-1, -1)
		w.subs = append(w.subs, sub)
	}
	return w, nc.Flush()
}

func (w *watch) close() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
}

func (w *watch) begin() {
	w.mu.Lock()
	w.start = time.Now()
	w.mu.Unlock()
}

func (w *watch) onMsg(m *nats.Msg) {
	tok := strings.Split(m.Subject, ".")
	w.mu.Lock()
	defer w.mu.Unlock()
	switch tok[0] {
	case "events":
		exec, pc := tok[2], tok[3]
		set := lazy(w.started, exec)
		set[pc] = true
		w.mark(exec, "delivery", len(set))
	case "results":
		exec, pc := tok[1], tok[2]
		byPC := lazy(w.results, exec)
		ids := byPC[pc]
		if ids == nil {
			ids = map[string]bool{}
			byPC[pc] = ids
		}
		ids[m.Header.Get(nats.MsgIdHdr)] = true
		w.mark(exec, "results", len(byPC))
	}
}

func lazy[V any](m map[string]map[string]V, k string) map[string]V {
	v := m[k]
	if v == nil {
		v = map[string]V{}
		m[k] = v
	}
	return v
}

// mark records the first time a phase's count reached the fleet size.
func (w *watch) mark(exec, phase string, n int) {
	if n < w.want {
		return
	}
	d := lazy(w.done, exec)
	if _, ok := d[phase]; !ok {
		d[phase] = time.Since(w.start)
	}
}

func (w *watch) phases(exec string) (delivery, results time.Duration, dups int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ids := range w.results[exec] {
		if len(ids) > 1 {
			dups++
		}
	}
	return w.done[exec]["delivery"], w.done[exec]["results"], dups
}

// Fanout runs exec-to-all rounds against a backend whose fleet of
// agents is already online.
type Fanout struct {
	b     Backend
	c     *client.Client
	nc    *nats.Conn
	w     *watch
	n     int
	round int
	// Timeout bounds one round (default one minute: the goal is 2 s).
	Timeout time.Duration
	// Procs names process trees whose CPU time each round reports.
	Procs map[string]int
}

func (f *Fanout) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range f.Procs {
		if d, err := TreeCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}

// NewFanout waits for agents to be online and prepares the watch.
func NewFanout(ctx context.Context, b Backend, agents int) (*Fanout, error) {
	c := b.Client()
	if err := WaitOnline(ctx, c, agents, 2*time.Minute); err != nil {
		return nil, err
	}
	nc, err := bus.Connect(b.NATSURL, "kanade-bench fanout")
	if err != nil {
		return nil, err
	}
	w, err := newWatch(nc, agents)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Fanout{b: b, c: c, nc: nc, w: w, n: agents, Timeout: time.Minute}, nil
}

// Close releases the watch connection.
func (f *Fanout) Close() {
	f.w.close()
	f.nc.Close()
}

// Round applies a fresh job (so its execution is found by job id),
// execs it to all and waits until the execution is completed.
func (f *Fanout) Round(ctx context.Context) (FanoutResult, error) {
	f.round++
	job := fmt.Sprintf("bench-fanout-%d-%d", time.Now().UnixNano(), f.round)
	if err := ApplySimJob(ctx, f.c, job); err != nil {
		return FanoutResult{}, err
	}
	res := FanoutResult{Agents: f.n}
	cpu0 := f.cpu()
	f.w.begin()
	t0 := time.Now()
	ans, err := f.c.Exec(ctx, job, client.ExecRequest{Target: manifest.Target{All: true}})
	if err != nil {
		return res, fmt.Errorf("exec %s: %w", job, err)
	}
	res.Publish, res.ExecID = time.Since(t0), ans.Value.ExecID
	if ans.Value.TargetCount != f.n {
		return res, fmt.Errorf("exec %s targeted %d agents, want %d", job, ans.Value.TargetCount, f.n)
	}
	wctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	res.Execution, err = WaitExecution(wctx, f.c, job, 10*time.Millisecond)
	res.Projected = time.Since(t0)
	if cpu1 := f.cpu(); len(cpu1) > 0 {
		res.CPU = map[string]time.Duration{}
		for name, d := range cpu1 {
			res.CPU[name] = d - cpu0[name]
		}
	}
	res.Delivery, res.Results, res.Duplicates = f.waitPhases(ctx, res.ExecID)
	if err != nil {
		// Report what did happen: an execution stuck short of its
		// counters is a finding, not a reason to lose the other figures.
		res.Incomplete = true
		if rep, gerr := f.c.ListExecutions(ctx, client.ExecutionFilter{Job: job, Paging: client.Paging{Limit: 1}}); gerr == nil && len(rep.Value.Items) > 0 {
			res.Execution = rep.Value.Items[0]
		}
	}
	return res, ctx.Err()
}

// waitPhases gives the watch a moment to see the last messages: the
// projection can finish before this process's subscription drains.
func (f *Fanout) waitPhases(ctx context.Context, exec string) (time.Duration, time.Duration, int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, r, dups := f.w.phases(exec)
		if (d > 0 && r > 0) || time.Now().After(deadline) || ctx.Err() != nil {
			return d, r, dups
		}
		time.Sleep(20 * time.Millisecond)
	}
}
