package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

// A script that starts a child and sleeps; both pids land in a file so the
// test can prove the whole tree is gone.
const treeScript = `sleep 300 &
echo $! > "$PIDFILE.child"
echo $$ > "$PIDFILE.parent"
sleep 300`

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func readPid(t testing.TB, path string) int {
	t.Helper()
	var pid int
	testutil.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err
	})
	return pid
}

func TestTimeoutAndKillStopTheWholeTree(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "tree")
	waitOnline(t, s, "tree")
	dir := t.TempDir()
	for _, mode := range []string{"timeout", "kill"} {
		t.Run(mode, func(t *testing.T) {
			pidfile := filepath.Join(dir, mode)
			timeout := "3s"
			if mode == "kill" {
				timeout = "5m"
			}
			applyJob(t, s, "tree-"+mode, "PIDFILE="+pidfile+"\n"+treeScript, timeout)
			ans := execJob(t, s, "tree-"+mode, map[string]any{"target": map[string]any{"pcs": []string{"tree"}}})
			parent, child := readPid(t, pidfile+".parent"), readPid(t, pidfile+".child")
			if mode == "kill" {
				if code := s.api(t, "POST", "/api/executions/"+ans.ExecID+"/kill", nil, nil); code != 202 {
					t.Fatalf("kill: status %d", code)
				}
			}
			d := waitExecution(t, s, ans.ExecID, 30*time.Second)
			r := d.Results[0]
			if mode == "timeout" && !r.TimedOut || mode == "kill" && !r.Killed {
				t.Fatalf("result: timed_out=%v killed=%v", r.TimedOut, r.Killed)
			}
			if d.Execution.Failed != 1 {
				t.Fatalf("counters: %+v", d.Execution)
			}
			testutil.CheckFor(t, 5*time.Second, 100*time.Millisecond, func() error {
				if alive(parent) || alive(child) {
					return fmt.Errorf("processes left: parent %d alive=%v, child %d alive=%v", parent, alive(parent), child, alive(child))
				}
				return nil
			})
		})
	}
}

func TestServerCrashDuringRunLosesNothing(t *testing.T) {
	s := startServer(t)
	pcs := []string{"d1", "d2", "d3"}
	for _, pc := range pcs {
		startAgent(t, s, pc)
	}
	waitOnline(t, s, pcs...)
	applyJob(t, s, "ten-seconds", "sleep 10; echo done", "1m")
	ans := execJob(t, s, "ten-seconds", map[string]any{"target": map[string]any{"all": true}})
	time.Sleep(2 * time.Second)
	s.restart(t) // SIGKILL while every agent is mid-run
	d := waitExecution(t, s, ans.ExecID, 60*time.Second)
	if d.Execution.Succeeded != 3 || d.Execution.Failed+d.Execution.Lost+d.Execution.Skipped != 0 {
		t.Fatalf("counters after crash: %+v", d.Execution)
	}
	time.Sleep(2 * time.Second)
	if rs := resultsOf(t, s, ans.ExecID); len(rs) != 3 {
		t.Fatalf("%d results, want exactly 3", len(rs))
	}
}

func TestAgentRestartDeliversQueuedResultsOnce(t *testing.T) {
	s := startServer(t)
	ag := startAgent(t, s, "queue")
	waitOnline(t, s, "queue")
	applyJob(t, s, "short", "sleep 2; echo queued", "1m")
	ans := execJob(t, s, "short", map[string]any{"target": map[string]any{"pcs": []string{"queue"}}})
	// Take the broker away while the script runs: the result can only go
	// to the outbox. Then restart the agent with the result still queued.
	s.proc.stop(syscall.SIGKILL)
	time.Sleep(4 * time.Second)
	ag.stop(syscall.SIGTERM)
	startAgent(t, s, "queue")
	s.launch(t)
	d := waitExecution(t, s, ans.ExecID, 60*time.Second)
	if d.Execution.Succeeded != 1 {
		t.Fatalf("counters: %+v", d.Execution)
	}
	time.Sleep(2 * time.Second)
	if rs := resultsOf(t, s, ans.ExecID); len(rs) != 1 || !strings.Contains(rs[0].Stdout, "queued") {
		t.Fatalf("results: %+v", rs)
	}
}

func TestPoisonMessageEndsInDeadLetters(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "p1")
	waitOnline(t, s, "p1")
	nc, err := nats.Connect(s.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("results.x.y", []byte("{not json"), 5*time.Second); err != nil {
		t.Fatalf("publish poison to the stream: %v", err)
	}
	applyJob(t, s, "after-poison", "echo still here", "30s")
	ans := execJob(t, s, "after-poison", map[string]any{"target": map[string]any{"pcs": []string{"p1"}}})
	d := waitExecution(t, s, ans.ExecID, 30*time.Second)
	if d.Execution.Succeeded != 1 {
		t.Fatalf("result after poison not projected: %+v", d.Execution)
	}
	var dead store.Page[store.DeadLetter]
	s.api(t, "GET", "/api/dead-letters", nil, &dead)
	if dead.Total != 1 || dead.Items[0].Subject != "results.x.y" || dead.Items[0].Stream != "RESULTS" {
		t.Fatalf("dead letters: %+v", dead)
	}
}
