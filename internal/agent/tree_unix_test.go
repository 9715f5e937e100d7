//go:build !windows

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

// treeScript starts a background child that records its pid, then waits.
func treeScript(pidFile string) string {
	return fmt.Sprintf("sleep 60 & echo $! > %s\nsleep 60\n", pidFile)
}

func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("child pid: %v", err)
	}
	testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if alive(pid) {
			return fmt.Errorf("child %d still running", pid)
		}
		return nil
	})
}

// alive treats a zombie as dead: in a container without an init that
// reaps orphans, a killed child can linger as one.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) == 0 || f[0] != "Z"
}

func TestTimeoutKillsTree(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	c := newCommand(treeScript(pidFile))
	c.TimeoutSecs = 1
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	r := waitResult(t, b.JS, c.ExecID)
	if !r.TimedOut || r.Killed || r.ExitCode != ExitNoStatus {
		t.Fatalf("result = %+v", r)
	}
	if d := r.FinishedAt.Sub(r.StartedAt); d > 10*time.Second {
		t.Fatalf("run took %v: the wait hung on the child", d)
	}
	assertGone(t, pidFile)
}

func TestKillKillsTree(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	c := newCommand(treeScript(pidFile))
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	waitStarted(t, b.JS, c.ExecID)
	testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
		data, err := os.ReadFile(pidFile)
		if err == nil && !strings.HasSuffix(string(data), "\n") {
			err = errors.New("pid not written yet")
		}
		return err
	})
	publishKill(t, b.NC, c.ExecID)
	r := waitResult(t, b.JS, c.ExecID)
	if !r.Killed || r.TimedOut || r.Skipped {
		t.Fatalf("result = %+v", r)
	}
	assertGone(t, pidFile)
}
