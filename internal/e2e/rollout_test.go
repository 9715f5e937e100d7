package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

func rolloutFleet(t *testing.T) *server {
	t.Helper()
	s := startServer(t)
	for _, pc := range []string{"r-canary", "r-office1", "r-office2"} {
		startAgent(t, s, pc)
	}
	waitOnline(t, s, "r-canary", "r-office1", "r-office2")
	setGroups(t, s, "r-canary", "canary")
	setGroups(t, s, "r-office1", "office")
	setGroups(t, s, "r-office2", "office")
	time.Sleep(time.Second) // agents subscribe to their group subjects
	return s
}

// A server killed between two waves publishes the second wave after its
// restart, once.
func TestRolloutSurvivesServerRestart(t *testing.T) {
	s := rolloutFleet(t)
	applyJob(t, s, "rolled", "echo rolled", "30s")
	started := time.Now()
	ans := execJob(t, s, "rolled", map[string]any{"rollout": map[string]any{"waves": []map[string]any{
		{"group": "canary"}, {"group": "office", "delay": "6s"},
	}}})
	if ans.TargetCount != 3 {
		t.Fatalf("target_count %d, want 3", ans.TargetCount)
	}
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if n := len(resultsOf(t, s, ans.ExecID)); n != 1 {
			return fmt.Errorf("%d results after wave 1", n)
		}
		return nil
	})
	s.restart(t)
	d := waitExecution(t, s, ans.ExecID, 40*time.Second)
	if time.Since(started) < 6*time.Second {
		t.Fatalf("wave 2 did not wait for its delay")
	}
	time.Sleep(2 * time.Second)
	rs := resultsOf(t, s, ans.ExecID)
	if got := pcsOf(rs); fmt.Sprint(got) != "[r-canary r-office1 r-office2]" || d.Execution.Succeeded != 3 {
		t.Fatalf("results from %v, counters %+v", got, d.Execution)
	}
}

func TestRolloutHaltsBelowMinSuccess(t *testing.T) {
	s := rolloutFleet(t)
	applyJob(t, s, "broken", "exit 1", "30s")
	ans := execJob(t, s, "broken", map[string]any{"rollout": map[string]any{"waves": []map[string]any{
		{"group": "canary"}, {"group": "office", "delay": "2s", "min_success": "100%"},
	}}})
	testutil.CheckFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		var audit store.Page[store.AuditEntry]
		s.api(t, "GET", "/api/audit?action=rollout.halt", nil, &audit)
		if audit.Total != 1 {
			return fmt.Errorf("%d rollout.halt audit events", audit.Total)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if rs := resultsOf(t, s, ans.ExecID); len(rs) != 1 || rs[0].PCID != "r-canary" {
		t.Fatalf("the halted wave ran: %+v", pcsOf(rs))
	}
}
