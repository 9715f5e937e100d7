package e2e

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

type execAnswer struct {
	ExecID      string   `json:"exec_id"`
	TargetCount int      `json:"target_count"`
	Subjects    []string `json:"subjects"`
}

type execDetail struct {
	Execution store.Execution `json:"execution"`
	Results   []store.Result  `json:"results"`
}

func applyJob(t testing.TB, s *server, id, script string, timeout string) {
	t.Helper()
	yaml := fmt.Sprintf("id: %s\nversion: \"1\"\nexecute:\n  shell: sh\n  timeout: %s\n  script: |\n%s\n", id, timeout, indent(script))
	if code := s.api(t, "POST", "/api/jobs", yaml, nil); code != http.StatusOK {
		t.Fatalf("apply job %s: status %d", id, code)
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "    " + lines[i]
	}
	return strings.Join(lines, "\n")
}

func execJob(t testing.TB, s *server, job string, plan any) execAnswer {
	t.Helper()
	var ans execAnswer
	if code := s.api(t, "POST", "/api/exec/"+job, plan, &ans); code != http.StatusOK {
		t.Fatalf("exec %s: status %d", job, code)
	}
	return ans
}

// waitOnline waits until the server sees every pc online.
func waitOnline(t testing.TB, s *server, pcs ...string) {
	t.Helper()
	testutil.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var page store.Page[store.Agent]
		s.api(t, "GET", "/api/agents?status=online&limit=1000", nil, &page)
		var online []string
		for _, a := range page.Items {
			online = append(online, a.PCID)
		}
		for _, pc := range pcs {
			if !slices.Contains(online, pc) {
				return fmt.Errorf("%s not online yet (online: %v)", pc, online)
			}
		}
		return nil
	})
}

// waitExecution waits until the execution is completed and returns it.
func waitExecution(t testing.TB, s *server, id string, wait time.Duration) execDetail {
	t.Helper()
	var d execDetail
	testutil.CheckFor(t, wait, 200*time.Millisecond, func() error {
		d = execDetail{}
		if code := s.api(t, "GET", "/api/executions/"+id, nil, &d); code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		if d.Execution.Status != store.StatusCompleted {
			return fmt.Errorf("execution %s is %s: %+v", id, d.Execution.Status, d.Execution)
		}
		return nil
	})
	return d
}

// resultsOf lists every projected result of an execution (not pending rows).
func resultsOf(t testing.TB, s *server, execID string) []store.Result {
	t.Helper()
	var page store.Page[store.Result]
	s.api(t, "GET", "/api/results?limit=1000&exec="+execID, nil, &page)
	return page.Items
}

func pcsOf(rs []store.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.PCID)
	}
	sort.Strings(out)
	return out
}

func setGroups(t testing.TB, s *server, pc string, groups ...string) {
	t.Helper()
	if code := s.api(t, "PUT", "/api/agents/"+pc+"/groups", map[string]any{"groups": groups}, nil); code != http.StatusOK {
		t.Fatalf("set groups of %s: %d", pc, code)
	}
}

func TestExecRunsOncePerTargetedAgent(t *testing.T) {
	s := startServer(t)
	for _, pc := range []string{"pc-a", "pc-b", "pc-c"} {
		startAgent(t, s, pc)
	}
	waitOnline(t, s, "pc-a", "pc-b", "pc-c")
	setGroups(t, s, "pc-a", "office")
	setGroups(t, s, "pc-b", "office", "canary")
	applyJob(t, s, "hello", `echo "hello from $(hostname)"; echo oops >&2`, "30s")
	// The agents learn their groups from KV; give the watch a moment by
	// waiting for the projection of the same KV to show both members.
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		var page store.Page[store.Agent]
		s.api(t, "GET", "/api/agents?group=office", nil, &page)
		if page.Total != 2 {
			return fmt.Errorf("office has %d members", page.Total)
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond) // agents subscribe to their new group subjects

	cases := []struct {
		name   string
		plan   map[string]any
		expect []string
	}{
		{"all", map[string]any{"target": map[string]any{"all": true}}, []string{"pc-a", "pc-b", "pc-c"}},
		{"group", map[string]any{"target": map[string]any{"groups": []string{"office"}}}, []string{"pc-a", "pc-b"}},
		{"pcs", map[string]any{"target": map[string]any{"pcs": []string{"pc-c"}}}, []string{"pc-c"}},
		// pc-b is reached through two groups and its own subject: it runs once.
		{"overlap", map[string]any{"target": map[string]any{"groups": []string{"office", "canary"}, "pcs": []string{"pc-b"}}}, []string{"pc-a", "pc-b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ans := execJob(t, s, "hello", tc.plan)
			if ans.TargetCount != len(tc.expect) {
				t.Fatalf("target_count = %d, want %d", ans.TargetCount, len(tc.expect))
			}
			d := waitExecution(t, s, ans.ExecID, 30*time.Second)
			e := d.Execution
			if e.Succeeded != len(tc.expect) || e.Failed != 0 || e.Skipped != 0 || e.Lost != 0 {
				t.Fatalf("counters = %+v, want %d succeeded", e, len(tc.expect))
			}
			// Give a duplicate run time to show up before counting.
			time.Sleep(time.Second)
			rs := resultsOf(t, s, ans.ExecID)
			if got := pcsOf(rs); !slices.Equal(got, tc.expect) {
				t.Fatalf("results from %v, want exactly %v", got, tc.expect)
			}
			for _, r := range rs {
				if r.ExitCode == nil || *r.ExitCode != 0 || !strings.Contains(r.Stdout, "hello from") || strings.TrimSpace(r.Stderr) != "oops" {
					t.Errorf("result of %s: exit=%v stdout=%q stderr=%q", r.PCID, r.ExitCode, r.Stdout, r.Stderr)
				}
			}
		})
	}
}

func TestOfflineAgentCatchesUpOnceOrSkipsAfterDeadline(t *testing.T) {
	s := startServer(t)
	applyJob(t, s, "catchup", "echo caught up", "30s")

	ans := execJob(t, s, "catchup", map[string]any{"target": map[string]any{"pcs": []string{"late"}}})
	past := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	expired := execJob(t, s, "catchup", map[string]any{"target": map[string]any{"pcs": []string{"tardy"}}, "deadline_at": past})
	time.Sleep(3 * time.Second) // the deadline passes while both agents are off

	late := startAgent(t, s, "late")
	startAgent(t, s, "tardy")
	d := waitExecution(t, s, ans.ExecID, 30*time.Second)
	if d.Execution.Succeeded != 1 {
		t.Fatalf("late agent: %+v", d.Execution)
	}
	dx := waitExecution(t, s, expired.ExecID, 30*time.Second)
	if dx.Execution.Skipped != 1 || dx.Results[0].SkipReason != "deadline" {
		t.Fatalf("tardy agent: %+v %+v", dx.Execution, dx.Results)
	}

	// A restart replays the catch-up; the persisted request ids stop a rerun.
	late.stop(15)
	startAgent(t, s, "late")
	waitOnline(t, s, "late")
	time.Sleep(2 * time.Second)
	if rs := resultsOf(t, s, ans.ExecID); len(rs) != 1 {
		t.Fatalf("late agent ran %d times, want once", len(rs))
	}
}

// TestCLIEndToEnd drives the operator CLI against the real server.
func TestCLIEndToEnd(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "cli-a")
	startAgent(t, s, "cli-b")
	waitOnline(t, s, "cli-a", "cli-b")
	dir := t.TempDir()
	job := dir + "/flaky.yaml"
	writeFile(t, job, "id: flaky\nversion: \"2\"\nexecute:\n  shell: sh\n  timeout: 30s\n  script: |\n    echo \"on $KANADE_PC\"\n    [ \"$(hostname)\" = never ] || [ \"$0\" != x ] && exit 0\n")
	if out, code := s.cli(t, "job", "apply", "-f", job); code != 0 {
		t.Fatalf("job apply: %d\n%s", code, out)
	}
	if out, code := s.cli(t, "exec", "flaky", "--all", "--wait"); code != 0 || !strings.Contains(out, "cli-a") || !strings.Contains(out, "cli-b") {
		t.Fatalf("exec --wait: exit %d\n%s", code, out)
	}
	writeFile(t, job, "id: failing\nversion: \"1\"\nexecute:\n  shell: sh\n  timeout: 30s\n  script: echo broken >&2; exit 3\n")
	s.cli(t, "job", "apply", "-f", job)
	if out, code := s.cli(t, "exec", "failing", "--pc", "cli-a", "--wait"); code != 1 {
		t.Fatalf("exec --wait of a failing job: exit %d, want 1\n%s", code, out)
	}
	out, code := s.cli(t, "run", "cli-b", "--", "echo ad-hoc; exit 4")
	if code != 4 || !strings.Contains(out, "ad-hoc") {
		t.Fatalf("run: exit %d, want 4\n%s", code, out)
	}
	if out, code := s.cli(t, "agents", "list", "-o", "json"); code != 0 || !strings.Contains(out, `"cli-a"`) {
		t.Fatalf("agents list: %d\n%s", code, out)
	}
	if out, code := s.cli(t, "job", "apply", "-f", writeFile(t, dir+"/bad.yaml", "id: bad\nversion: \"1\"\nexecute:\n  shell: sh\n  scirpt: x\n  timeout: 1m\n")); code == 0 || !strings.Contains(out, "execute.scirpt") {
		t.Fatalf("apply of a typo: exit %d\n%s", code, out)
	}
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLayeredAgentConfig(t *testing.T) {
	s := startServer(t)
	setGroups(t, s, "cfg-pc", "zeta", "alpha")
	for scope, body := range map[string]string{
		"global":      `{"heartbeat_interval":"20s","concurrency":2}`,
		"group.alpha": `{"concurrency":3,"output_cap":4096}`,
		"group.zeta":  `{"concurrency":5}`,
		"pc.cfg-pc":   `{"heartbeat_interval":"5s"}`,
	} {
		if code := s.api(t, "PUT", "/api/config/"+scope, body, nil); code != 200 {
			t.Fatalf("put %s: %d", scope, code)
		}
	}
	var e apiError
	if code := s.api(t, "PUT", "/api/config/global", `{"heartbeat_intervall":"1s"}`, &e); code != 400 || !strings.Contains(e.Error, "heartbeat_intervall") {
		t.Fatalf("typo in a setting: %d %+v", code, e)
	}
	var eff struct {
		Settings map[string]struct {
			Value  any    `json:"value"`
			Source string `json:"source"`
		} `json:"settings"`
	}
	s.api(t, "GET", "/api/agents/cfg-pc/effective-config", nil, &eff)
	got := fmt.Sprint(eff.Settings["heartbeat_interval"], eff.Settings["concurrency"], eff.Settings["output_cap"], eff.Settings["inventory_interval"])
	if want := "{5s pc.cfg-pc} {5 group.zeta} {4096 group.alpha} {24h builtin}"; got != want {
		t.Fatalf("effective config %s, want %s", got, want)
	}
}
