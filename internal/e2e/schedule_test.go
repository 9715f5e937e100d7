package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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

func TestScheduleAPI(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "api-pc")
	waitOnline(t, s, "api-pc")
	applyJob(t, s, "nightly", "echo nightly", "1m")

	bad := []struct {
		name, yaml, path string
	}{
		{"typo in when", "id: s1\njob_id: nightly\nwhen: {per_pc: {evry: 1h}}\ntarget: {all: true}\n", "when.per_pc.evry"},
		{"missing job", "id: s1\njob_id: ghost\nwhen: {per_pc: once}\ntarget: {all: true}\n", "job_id"},
		{"bad day", "id: s1\njob_id: nightly\nwhen: {calendar: {at: \"09:00\", days: [funday]}}\ntarget: {all: true}\n", "when.calendar.days[0]"},
		{"per_target on agent", "id: s1\njob_id: nightly\nwhen: {per_target: once}\nruns_on: agent\ntarget: {all: true}\n", "when.per_target"},
		{"empty target", "id: s1\njob_id: nightly\nwhen: {per_pc: once}\ntarget: {}\n", "target"},
	}
	for _, tc := range bad {
		var e apiError
		if code := s.api(t, "POST", "/api/schedules", tc.yaml, &e); code != 400 || !contains(e.paths(), tc.path) {
			t.Errorf("%s: status %d, paths %v, want 400 naming %s", tc.name, code, e.paths(), tc.path)
		}
	}

	past := applySchedule(t, s, "id: long-ago\njob_id: nightly\nwhen: {calendar: {at: \"2020-01-01 09:00\"}}\ntarget: {all: true}\n")
	if w, _ := past["warnings"].([]any); len(w) != 1 || !strings.Contains(fmt.Sprint(w[0]), "never fire") {
		t.Fatalf("past one-shot: warnings %v", past["warnings"])
	}

	cal := applySchedule(t, s, "id: weekday-nine\njob_id: nightly\nwhen: {calendar: {at: \"09:00\", days: [mon-fri]}}\ntz: Asia/Tokyo\ntarget: {all: true}\n")
	if cal["next_fire"] == nil {
		t.Fatalf("calendar schedule has no next_fire: %v", cal)
	}
	var preview struct {
		Next      []string       `json:"next"`
		WouldFire map[string]any `json:"would_fire"`
	}
	s.api(t, "GET", "/api/schedules/weekday-nine/preview?count=3", nil, &preview)
	if len(preview.Next) != 3 {
		t.Fatalf("preview: %+v", preview)
	}
	for _, ts := range preview.Next {
		at, err := time.Parse(time.RFC3339, ts)
		tokyo, _ := time.LoadLocation("Asia/Tokyo")
		if err != nil || at.In(tokyo).Hour() != 9 || at.In(tokyo).Weekday() == time.Saturday || at.In(tokyo).Weekday() == time.Sunday {
			t.Fatalf("preview time %s is not a weekday 09:00 in Tokyo", ts)
		}
	}

	applySchedule(t, s, "id: per-pc\njob_id: nightly\nwhen: {per_pc: once}\ntarget: {all: true}\n")
	s.api(t, "GET", "/api/schedules/per-pc/preview", nil, &preview)
	if fmt.Sprint(preview.WouldFire["pcs"]) != "[api-pc]" {
		t.Fatalf("would_fire: %v", preview.WouldFire)
	}
	var row map[string]any
	s.api(t, "POST", "/api/schedules/per-pc/disable", nil, &row)
	if row["enabled"] != false {
		t.Fatalf("disable: %v", row)
	}
	s.api(t, "GET", "/api/schedules/per-pc", nil, &row)
	if row["enabled"] != false {
		t.Fatalf("after disable: %v", row)
	}
	if code := s.api(t, "DELETE", "/api/jobs/nightly", nil, nil); code != 409 {
		t.Fatalf("deleting a job in use: %d, want 409", code)
	}
	testutil.CheckFor(t, 10*time.Second, 200*time.Millisecond, func() error {
		var audit store.Page[store.AuditEntry]
		s.api(t, "GET", "/api/audit?action=schedule.disable", nil, &audit)
		if audit.Total != 1 || audit.Items[0].Target != "per-pc" {
			return fmt.Errorf("audit %+v", audit)
		}
		return nil
	})
}
