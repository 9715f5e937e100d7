package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/wire"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "kanade.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hb(pc, host, os string, at time.Time) wire.Heartbeat {
	return wire.Heartbeat{PCID: pc, Hostname: host, OS: os, At: at}
}

func TestTimestampsOrderAsText(t *testing.T) {
	a, b := ts(t0), ts(t0.Add(500*time.Millisecond))
	if !(a < b) {
		t.Fatalf("%s !< %s", a, b)
	}
	if got := parseTS(a); !got.Equal(t0) {
		t.Fatalf("round trip %v", got)
	}
}

func TestListAgentsFilters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var hbs []wire.Heartbeat
	for i := range 250 {
		at := t0
		if i%2 == 1 {
			at = t0.Add(-5 * time.Minute) // offline
		}
		os := "linux"
		if i%5 == 0 {
			os = "windows"
		}
		hbs = append(hbs, hb(fmt.Sprintf("pc-%03d", i), fmt.Sprintf("host%03d.example", i), os, at))
	}
	if err := s.UpsertHeartbeats(ctx, hbs); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgentGroups(ctx, "pc-001", []string{"canary", "office"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgentGroups(ctx, "pc-002", []string{"canary"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		f     AgentFilter
		total int
		first string
	}{
		{AgentFilter{}, 250, "pc-000"},
		{AgentFilter{Limit: 10, Offset: 240}, 250, "pc-240"},
		{AgentFilter{Q: "pc-01"}, 10, "pc-010"},
		{AgentFilter{Q: "host24"}, 10, "pc-240"},
		{AgentFilter{Q: "3.exa"}, 25, "pc-003"},
		{AgentFilter{Q: `^pc-00[0-4]$`}, 5, "pc-000"},
		{AgentFilter{Q: `^host1\d\d\.`}, 100, "pc-100"},
		{AgentFilter{Group: "canary"}, 2, "pc-001"},
		{AgentFilter{Status: "online"}, 125, "pc-000"},
		{AgentFilter{Status: "offline"}, 125, "pc-001"},
		{AgentFilter{OS: "windows", Status: "online"}, 25, "pc-000"},
		{AgentFilter{Sort: "-pc_id"}, 250, "pc-249"},
		{AgentFilter{Q: "pc-1_"}, 0, ""}, // '_' is literal, not a LIKE wildcard
	}
	for _, c := range cases {
		p, err := s.ListAgents(ctx, c.f, t0)
		if err != nil {
			t.Fatalf("%+v: %v", c.f, err)
		}
		if p.Total != c.total {
			t.Errorf("%+v: total %d, want %d", c.f, p.Total, c.total)
		}
		if c.first != "" && (len(p.Items) == 0 || p.Items[0].PCID != c.first) {
			t.Errorf("%+v: first item %v, want %s", c.f, p.Items, c.first)
		}
	}
	p, _ := s.ListAgents(ctx, AgentFilter{Group: "canary"}, t0)
	if g := p.Items[0].Groups; len(g) != 2 || g[0] != "canary" || g[1] != "office" {
		t.Errorf("groups %v", g)
	}
	if p.Items[0].Online || !p.Items[1].Online {
		t.Errorf("online flags %v %v", p.Items[0].Online, p.Items[1].Online)
	}
	for _, bad := range []AgentFilter{{Q: "(["}, {Status: "asleep"}, {Sort: "ram"}} {
		if _, err := s.ListAgents(ctx, bad, t0); !IsFilterError(err) {
			t.Errorf("%+v: want FilterError, got %v", bad, err)
		}
	}
}

func TestHeartbeatNewestWins(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.UpsertHeartbeats(ctx, []wire.Heartbeat{hb("a", "new", "linux", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertHeartbeats(ctx, []wire.Heartbeat{hb("a", "old", "linux", t0.Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAgent(ctx, "a", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Hostname != "new" || !a.LastHeartbeat.Equal(t0) || !a.FirstSeen.Equal(t0) {
		t.Fatalf("got %+v", a)
	}
	if _, err := s.GetAgent(ctx, "zz", t0); err != ErrNotFound {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func result(exec, pc, rid string, exit int, fin time.Time) ResultMsg {
	return ResultMsg{ExecResult: wire.ExecResult{ResultID: rid, ExecID: exec, JobID: "job", PCID: pc,
		ExitCode: exit, StartedAt: fin.Add(-time.Second), FinishedAt: fin}, RecordedAt: fin}
}

func TestExecutionLifecycleAndPendingRows(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	// A result before the executions row: counted once the row is inserted.
	if _, err := s.Apply(ctx, &Batch{Results: []ResultMsg{result("e1", "a", "r-a", 0, t0)}}); err != nil {
		t.Fatal(err)
	}
	e := Execution{ExecID: "e1", JobID: "job", InitiatedBy: "alice", InitiatedAt: t0, TargetCount: 3}
	for range 2 { // idempotent
		if err := s.InsertExecution(ctx, e, []string{"a", "b", "c"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetExecution(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Succeeded != 1 || got.Status != StatusRunning {
		t.Fatalf("after insert: %+v", got)
	}
	b := &Batch{
		Started: []StartedMsg{{Started: wire.Started{ResultID: "r-b", ExecID: "e1", JobID: "job", PCID: "b", StartedAt: t0},
			RecordedAt: t0, LostAfter: t0.Add(time.Hour)}},
		Results: []ResultMsg{result("e1", "x", "r-x", 1, t0)}, // outside the target
	}
	if _, err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	rs, err := s.ExecutionResults(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": ResultSuccess, "b": ResultRunning, "c": ResultPending, "x": ResultFailure}
	if len(rs) != len(want) {
		t.Fatalf("rows %+v", rs)
	}
	for _, r := range rs {
		if want[r.PCID] != r.Status {
			t.Errorf("%s: %s, want %s", r.PCID, r.Status, want[r.PCID])
		}
	}
	got, _ = s.GetExecution(ctx, "e1")
	if got.Succeeded != 1 || got.Failed != 1 || got.Running != 1 || got.Status != StatusRunning {
		t.Fatalf("counters %+v", got)
	}
	// The late result of b completes it (3 of 3 done).
	if _, err := s.Apply(ctx, &Batch{Results: []ResultMsg{result("e1", "b", "r-b", 0, t0.Add(time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetExecution(ctx, "e1")
	if got.Succeeded != 2 || got.Failed != 1 || got.Running != 0 || got.Status != StatusCompleted || got.FinishedAt == nil {
		t.Fatalf("completed %+v", got)
	}
}

func TestZeroTargetCompletesAndExpiry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.InsertExecution(ctx, Execution{ExecID: "z", JobID: "j", InitiatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	dl := t0.Add(time.Minute)
	if err := s.InsertExecution(ctx, Execution{ExecID: "d", JobID: "j", InitiatedAt: t0, TargetCount: 1, DeadlineAt: &dl}, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertExecution(ctx, Execution{ExecID: "n", JobID: "j", InitiatedAt: t0, TargetCount: 1}, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.GetExecution(ctx, "z"); e.Status != StatusCompleted {
		t.Fatalf("zero target: %s", e.Status)
	}
	ids, err := s.ExpireExecutions(ctx, dl.Add(DeadlineGrace+time.Second), time.Hour)
	if err != nil || len(ids) != 1 || ids[0] != "d" {
		t.Fatalf("expired %v %v", ids, err)
	}
	ids, _ = s.ExpireExecutions(ctx, t0.Add(time.Hour+time.Second), time.Hour)
	if len(ids) != 1 || ids[0] != "n" {
		t.Fatalf("expired %v", ids)
	}
}

func TestCompletions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	b := &Batch{Results: []ResultMsg{
		result("e1", "a", "1", 0, t0),
		result("e2", "a", "2", 0, t0.Add(2*time.Hour)),
		result("e3", "a", "3", 0, t0.Add(time.Hour)),
		result("e1", "b", "4", 1, t0.Add(3*time.Hour)), // failure: not a completion
		result("e1", "c", "5", 0, t0),
	}}
	sk := result("e1", "d", "6", 0, t0)
	sk.Skipped = true
	b.Results = append(b.Results, sk)
	if _, err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Completions(ctx, "job", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].PC != "a" || !cs[0].At.Equal(t0.Add(2*time.Hour)) || cs[1].PC != "c" {
		t.Fatalf("completions %+v", cs)
	}
	cs, _ = s.Completions(ctx, "job", []string{"c", "b"})
	if len(cs) != 1 || cs[0].PC != "c" {
		t.Fatalf("restricted %+v", cs)
	}
}

func TestTargetsAndTicksAndReset(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	_ = s.UpsertHeartbeats(ctx, []wire.Heartbeat{hb("a", "", "", t0), hb("b", "", "", t0.Add(-time.Hour))})
	_ = s.ReplaceAgentGroups(ctx, map[string][]string{"a": {"g1"}, "b": {"g1"}, "ghost": {"g2"}})
	on, _ := s.OnlinePCs(ctx, t0, false, []string{"g1", "g2"})
	tOn, roster, _ := s.TargetPCs(ctx, t0, false, []string{"g1", "g2"})
	all, _ := s.OnlinePCs(ctx, t0, true, nil)
	tAll, everyone, _ := s.TargetPCs(ctx, t0, true, nil)
	if fmt.Sprint(on, tOn) != "[a] [a]" || fmt.Sprint(roster) != "[a b ghost]" || fmt.Sprint(all, tAll) != "[a] [a]" ||
		fmt.Sprint(everyone) != "[a b]" {
		t.Fatalf("online %v/%v roster %v all %v/%v everyone %v", on, tOn, roster, all, tAll, everyone)
	}
	if on, roster, _ := s.TargetPCs(ctx, t0, false, nil); len(on)+len(roster) != 0 {
		t.Fatalf("no groups: online %v roster %v", on, roster)
	}
	for i := range 5 {
		if err := s.InsertTick(ctx, Tick{ScheduleID: "s", TickAt: t0.Add(time.Duration(i) * time.Minute), Action: "skipped"}, 3); err != nil {
			t.Fatal(err)
		}
	}
	ticks, _ := s.ListTicks(ctx, "s", 10)
	if len(ticks) != 3 || !ticks[0].TickAt.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("ticks %+v", ticks)
	}
	id1, _ := s.InstanceID(ctx)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	id2, _ := s.InstanceID(ctx)
	p, _ := s.ListAgents(ctx, AgentFilter{}, t0)
	ticks, _ = s.ListTicks(ctx, "s", 10)
	if id1 == id2 || p.Total != 0 || len(ticks) != 3 {
		t.Fatalf("after reset: ids %s %s agents %d ticks %d", id1, id2, p.Total, len(ticks))
	}
}
