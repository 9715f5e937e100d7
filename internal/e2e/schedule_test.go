package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

func applySchedule(t testing.TB, s *server, yaml string) map[string]any {
	t.Helper()
	var out map[string]any
	if code := s.api(t, "POST", "/api/schedules", yaml, &out); code != http.StatusOK {
		t.Fatalf("apply schedule: %d %v", code, out)
	}
	return out
}

// runsByPC counts every projected result of a job per PC.
func runsByPC(t testing.TB, s *server, job string) map[string]int {
	t.Helper()
	var page store.Page[store.Result]
	s.api(t, "GET", "/api/results?limit=1000&job="+job, nil, &page)
	out := map[string]int{}
	for _, r := range page.Items {
		out[r.PCID]++
	}
	return out
}

func waitRuns(t testing.TB, s *server, job string, want map[string]int, wait time.Duration) {
	t.Helper()
	testutil.CheckFor(t, wait, 500*time.Millisecond, func() error {
		if got := runsByPC(t, s, job); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("runs %v, want %v", got, want)
		}
		return nil
	})
}

// TestPerPCScheduleWithTheRealPoll runs the real server binary with its
// real one-minute poll: each PC runs the job once, and a PC that joins
// later runs it once too.
func TestPerPCScheduleWithTheRealPoll(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "s1")
	startAgent(t, s, "s2")
	waitOnline(t, s, "s1", "s2")
	applyJob(t, s, "inventory-fix", "echo fixed", "30s")
	applySchedule(t, s, "id: fix-once\njob_id: inventory-fix\nwhen: {per_pc: once}\ntarget: {all: true}\n")
	waitRuns(t, s, "inventory-fix", map[string]int{"s1": 1, "s2": 1}, 150*time.Second)

	startAgent(t, s, "s3")
	waitRuns(t, s, "inventory-fix", map[string]int{"s1": 1, "s2": 1, "s3": 1}, 150*time.Second)

	var ticks store.Page[store.Tick]
	s.api(t, "GET", "/api/schedules/fix-once/ticks", nil, &ticks)
	fired := 0
	for _, tk := range ticks.Items {
		if tk.Action == "fired_pcs" {
			fired += tk.Fired
		}
	}
	if fired != 3 {
		t.Fatalf("decision log shows %d PCs fired, want 3: %+v", fired, ticks.Items)
	}
}

// TestSchedulerFailover runs two servers on one external broker; the lease
// holder is killed and the other replica carries on without doubling.
func TestSchedulerFailover(t *testing.T) {
	broker := testutil.RunJetStream(t)
	a := startServer(t, "--nats-url", broker.URL, "--scheduler-poll", "1s")
	b := startServer(t, "--nats-url", broker.URL, "--scheduler-poll", "1s")
	agentSrv := &server{natsAddr: broker.URL[len("nats://"):], dataDir: t.TempDir()}
	startAgent(t, agentSrv, "ha1")
	waitOnline(t, a, "ha1")
	applyJob(t, a, "ha-job", "echo ha", "30s")
	applySchedule(t, a, "id: ha-once\njob_id: ha-job\nwhen: {per_pc: once}\ntarget: {all: true}\n")
	waitRuns(t, a, "ha-job", map[string]int{"ha1": 1}, 90*time.Second)

	// Kill whichever replica holds the lease.
	holder, survivor := a, b
	kv, err := broker.JS.KeyValue(context.Background(), "scheduler_lease")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), "leader"); err != nil {
		t.Fatalf("no lease holder: %v", err)
	}
	if leaderTicks(t, b) > leaderTicks(t, a) {
		holder, survivor = b, a
	}
	holder.proc.stop(9)

	startAgent(t, agentSrv, "ha2")
	waitRuns(t, survivor, "ha-job", map[string]int{"ha1": 1, "ha2": 1}, 120*time.Second)
	time.Sleep(5 * time.Second)
	if got := runsByPC(t, survivor, "ha-job"); fmt.Sprint(got) != "map[ha1:1 ha2:1]" {
		t.Fatalf("runs after failover: %v", got)
	}
}

// leaderTicks counts decision-log rows a replica wrote; only the lease
// holder ticks, and each replica keeps its own SQLite.
func leaderTicks(t testing.TB, s *server) int {
	var ticks store.Page[store.Tick]
	s.api(t, "GET", "/api/schedules/ha-once/ticks", nil, &ticks)
	return len(ticks.Items)
}
