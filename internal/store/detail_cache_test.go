package store

import (
	"context"
	"testing"

	"github.com/kanade-dev/kanade/internal/wire"
)

// TestExecutionResultsCacheInvalidates checks the detail cache never
// serves rows a later commit changed: a result, a lost sweep and a
// reset each show up on the next read.
func TestExecutionResultsCacheInvalidates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.InsertExecution(ctx, Execution{ExecID: "e", JobID: "j", InitiatedAt: t0, TargetCount: 2},
		[]string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	status := func(want ...string) {
		t.Helper()
		rs, err := s.ExecutionResults(ctx, "e")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(want) {
			t.Fatalf("got %d rows, want %v", len(rs), want)
		}
		for i, r := range rs {
			if r.Status != want[i] {
				t.Fatalf("row %d (%s): %s, want %v", i, r.PCID, r.Status, want)
			}
		}
	}
	status(ResultPending, ResultPending)
	status(ResultPending, ResultPending) // served from the cache
	started := StartedMsg{Started: wire.Started{ResultID: "rb", ExecID: "e", JobID: "j", PCID: "b", StartedAt: t0},
		RecordedAt: t0, LostAfter: t0.Add(1)}
	if _, err := s.Apply(ctx, &Batch{Started: []StartedMsg{started}}); err != nil {
		t.Fatal(err)
	}
	status(ResultPending, ResultRunning)
	if _, err := s.ReapLost(ctx, t0.Add(2)); err != nil {
		t.Fatal(err)
	}
	status(ResultPending, ResultLost)
	res := ResultMsg{ExecResult: wire.ExecResult{ResultID: "ra", ExecID: "e", JobID: "j", PCID: "a", FinishedAt: t0},
		RecordedAt: t0}
	if _, err := s.Apply(ctx, &Batch{Results: []ResultMsg{res}}); err != nil {
		t.Fatal(err)
	}
	status(ResultSuccess, ResultLost)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExecutionResults(ctx, "e"); err != ErrNotFound {
		t.Fatalf("after reset: %v, want ErrNotFound", err)
	}
}
