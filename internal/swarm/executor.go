package swarm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/kanade-dev/kanade/internal/agent"
	"github.com/kanade-dev/kanade/internal/duration"
)

// Range is a run-time distribution: uniform in [Min, Max].
type Range struct{ Min, Max time.Duration }

// ParseRange reads "50ms-2s", "100ms" (fixed) or "" / "0" (instant).
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Range{}, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	min, err := duration.Parse(lo)
	if err != nil {
		return Range{}, fmt.Errorf("runtime %q: %w", s, err)
	}
	max := min
	if found {
		if max, err = duration.Parse(hi); err != nil {
			return Range{}, fmt.Errorf("runtime %q: %w", s, err)
		}
	}
	if max < min {
		return Range{}, fmt.Errorf("runtime %q: upper bound below lower bound", s)
	}
	return Range{Min: min, Max: max}, nil
}

// Executor stands in for the shell: it sleeps for a run time drawn from
// Runtime and exits 1 for a FailureRatio share of runs. Draws hash
// (pc_id, exec_id), so a test can predict which agents fail. It counts
// runs per (exec_id, pc_id) to prove "ran exactly once".
type Executor struct {
	failure float64
	runtime Range

	mu   sync.Mutex
	runs map[string]map[string]int // exec id → pc id → runs
}

// NewExecutor returns an executor with the given failure share and run time.
func NewExecutor(failure float64, runtime Range) *Executor {
	return &Executor{failure: failure, runtime: runtime, runs: map[string]map[string]int{}}
}

var _ agent.Executor = (*Executor)(nil)

// Execute simulates one run; a kill or timeout ends the sleep early.
func (e *Executor) Execute(ctx context.Context, job agent.Job) agent.Outcome {
	e.count(job.ExecID, job.PCID)
	d := e.runtime.Min
	if span := e.runtime.Max - e.runtime.Min; span > 0 {
		d += time.Duration(draw(job.PCID, job.ExecID, "runtime") * float64(span))
	}
	if d > 0 {
		ctx, cancel := context.WithTimeout(ctx, job.Timeout)
		defer cancel()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			out := agent.Outcome{ExitCode: agent.ExitNoStatus}
			out.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
			out.Killed = !out.TimedOut
			return out
		}
	}
	if e.Fails(job.PCID, job.ExecID) {
		return agent.Outcome{ExitCode: 1, Stderr: "swarm: simulated failure\n"}
	}
	return agent.Outcome{Stdout: "swarm: ok " + job.PCID + "\n"}
}

// Fails reports whether the run of execID on pcID is a simulated failure.
func (e *Executor) Fails(pcID, execID string) bool {
	return e.failure > 0 && draw(pcID, execID, "fail") < e.failure
}

func (e *Executor) count(execID, pcID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.runs[execID]
	if m == nil {
		m = map[string]int{}
		e.runs[execID] = m
	}
	m[pcID]++
}

// Runs returns a copy of pc id → number of runs for one exec.
func (e *Executor) Runs(execID string) map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.runs[execID]))
	for k, v := range e.runs[execID] {
		out[k] = v
	}
	return out
}

// draw maps (pc, exec, purpose) to [0, 1) deterministically.
func draw(pc, exec, purpose string) float64 {
	h := fnv.New64a()
	h.Write([]byte(pc))
	h.Write([]byte{0})
	h.Write([]byte(exec))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return float64(h.Sum64()>>11) / float64(1<<53)
}
