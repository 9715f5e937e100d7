package agent

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

func TestCommandRunsOnceAcrossSubjects(t *testing.T) {
	b := testutil.RunJetStream(t)
	putGroups(t, b.JS, "pc1", `{"groups":["lab"]}`)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if !slices.Contains(ag.a.currentGroups(), "lab") {
			return errors.New("not in group lab yet")
		}
		return nil
	})

	c := newCommand("echo hello; echo oops >&2; exit 3")
	for _, s := range []string{wire.SubjectCommandsAll, wire.SubjectCommandsPC("pc1"), wire.SubjectCommandsGroup("lab")} {
		publishCmd(t, b.JS, s, c)
	}
	r := waitResult(t, b.JS, c.ExecID)
	if r.Stdout != "hello\n" || r.Stderr != "oops\n" || r.ExitCode != 3 {
		t.Fatalf("result = %+v", r)
	}
	if r.PCID != "pc1" || r.RequestID != c.RequestID || r.JobID != "job1" || r.Version != "1" || r.ResultID == "" {
		t.Fatalf("identity fields wrong: %+v", r)
	}
	if r.Skipped || r.TimedOut || r.Killed || r.StdoutTruncated {
		t.Fatalf("flags wrong: %+v", r)
	}
	waitStarted(t, b.JS, c.ExecID)
	if n := len(streamMsgs(t, b.JS, wire.StreamEvents, "events.started."+c.ExecID+".")); n != 1 {
		t.Fatalf("want 1 started event, got %d", n)
	}
}

func TestCommandForOtherPCsIgnored(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	other := newCommand("echo no")
	other.PCs = []string{"pc2"}
	mine := newCommand("echo yes")
	mine.PCs = []string{"pc2", "pc1"}
	publishCmd(t, b.JS, wire.SubjectCommandsAll, other)
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), mine)
	waitResult(t, b.JS, mine.ExecID)
	if n := len(results(t, b.JS, other.ExecID)); n != 0 {
		t.Fatalf("command for pc2 ran on pc1")
	}
}

func TestCatchUpAndPersistedDedup(t *testing.T) {
	b := testutil.RunJetStream(t)
	dir := t.TempDir()
	c := newCommand("echo caught-up")
	publishCmd(t, b.JS, wire.SubjectCommandsAll, c)
	past := time.Now().Add(-time.Minute).UTC()
	late := newCommand("echo never")
	late.DeadlineAt = &past
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), late)

	ag := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	waitReady(t, ag.a)
	if r := waitResult(t, b.JS, c.ExecID); r.Stdout != "caught-up\n" {
		t.Fatalf("result = %+v", r)
	}
	r := waitResult(t, b.JS, late.ExecID)
	if !r.Skipped || r.SkipReason != wire.SkipDeadline || r.Stdout != "" {
		t.Fatalf("deadline result = %+v", r)
	}
	ag.stop()

	again := startAgent(t, testConfig(t, b.URL, "pc1", dir))
	waitReady(t, again.a)
	time.Sleep(300 * time.Millisecond)
	if n := len(results(t, b.JS, c.ExecID)); n != 1 {
		t.Fatalf("restart re-ran the command: %d results", n)
	}
	if n := len(results(t, b.JS, late.ExecID)); n != 1 {
		t.Fatalf("restart re-reported the skipped command: %d results", n)
	}
}

func TestGroupsWatchedLive(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	inGroups := func(want ...string) {
		t.Helper()
		testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
			got := ag.a.currentGroups()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("groups = %v, want %v", got, want)
			}
			return nil
		})
	}

	// Published before the agent joins: found by the catch-up after join.
	early := newCommand("echo early")
	publishCmd(t, b.JS, wire.SubjectCommandsGroup("lab"), early)
	putGroups(t, b.JS, "pc1", `{"groups":["lab","ops"]}`)
	inGroups("lab", "ops")
	waitResult(t, b.JS, early.ExecID)

	live := newCommand("echo live")
	publishCmd(t, b.JS, wire.SubjectCommandsGroup("ops"), live)
	waitResult(t, b.JS, live.ExecID)

	putGroups(t, b.JS, "pc1", `{not json`)
	time.Sleep(300 * time.Millisecond)
	inGroups("lab", "ops") // corrupt value ignored, membership kept

	putGroups(t, b.JS, "pc1", `{"groups":["lab"]}`)
	inGroups("lab")
	putGroups(t, b.JS, "pc1", "")
	inGroups()
	gone := newCommand("echo gone")
	publishCmd(t, b.JS, wire.SubjectCommandsGroup("ops"), gone)
	publishCmd(t, b.JS, wire.SubjectCommandsGroup("lab"), gone)
	time.Sleep(500 * time.Millisecond)
	if n := len(results(t, b.JS, gone.ExecID)); n != 0 {
		t.Fatalf("agent ran a command of a group it left")
	}
}

func TestKillBeforeStart(t *testing.T) {
	b := testutil.RunJetStream(t)
	ag := startAgent(t, testConfig(t, b.URL, "pc1", t.TempDir()))
	waitReady(t, ag.a)
	c := newCommand("echo ran")
	c.JitterSecs = 3600 // wait for an hour unless killed
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	testutil.CheckFor(t, wait, 20*time.Millisecond, func() error {
		ag.a.mu.Lock()
		defer ag.a.mu.Unlock()
		if len(ag.a.active[c.ExecID]) == 0 {
			return errors.New("not accepted yet")
		}
		return nil
	})
	// The jitter offset for this exec could be ~0; only test the waiting path.
	if JitterOffset("pc1", c.ExecID, time.Hour) < time.Second {
		t.Skip("offset too small to catch the command waiting")
	}
	publishKill(t, b.NC, c.ExecID)
	r := waitResult(t, b.JS, c.ExecID)
	if !r.Skipped || r.SkipReason != wire.SkipKilledBeforeStart || r.Stdout != "" {
		t.Fatalf("result = %+v", r)
	}
}

func TestOutputCapKeepsHeadAndTail(t *testing.T) {
	b := testutil.RunJetStream(t)
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.OutputCap = 100
	ag := startAgent(t, cfg)
	waitReady(t, ag.a)
	c := newCommand(`printf BEGIN; i=0; while [ $i -lt 200 ]; do printf xxxxxxxxxx; i=$((i+1)); done; printf END; echo small >&2`)
	publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
	r := waitResult(t, b.JS, c.ExecID)
	if !r.StdoutTruncated || r.StderrTruncated {
		t.Fatalf("flags = %v/%v", r.StdoutTruncated, r.StderrTruncated)
	}
	if !strings.HasPrefix(r.Stdout, "BEGIN") || !strings.HasSuffix(r.Stdout, "END") || !strings.Contains(r.Stdout, "truncated") {
		t.Fatalf("stdout = %q", r.Stdout)
	}
	if r.Stderr != "small\n" {
		t.Fatalf("stderr = %q", r.Stderr)
	}
}

func TestUnavailableShellFails(t *testing.T) {
	b := testutil.RunJetStream(t)
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.Executor = &ShellExecutor{LookPath: func(string) (string, error) { return "", errors.New("not found in PATH") }}
	ag := startAgent(t, cfg)
	waitReady(t, ag.a)
	for _, tc := range []struct{ shell, want string }{
		{"fish", "unsupported shell"},
		{"pwsh", "not available"},
	} {
		c := newCommand("echo hi")
		c.Shell = tc.shell
		publishCmd(t, b.JS, wire.SubjectCommandsPC("pc1"), c)
		r := waitResult(t, b.JS, c.ExecID)
		if r.ExitCode != ExitNotRun || !strings.Contains(r.Stderr, tc.want) || r.Succeeded() {
			t.Fatalf("%s: result = %+v", tc.shell, r)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	b := testutil.RunJetStream(t)
	sub, err := b.NC.SubscribeSync(wire.SubjectHeartbeat("pc1"))
	if err != nil {
		t.Fatal(err)
	}
	_ = b.NC.Flush()
	cfg := testConfig(t, b.URL, "pc1", t.TempDir())
	cfg.HeartbeatInterval = 100 * time.Millisecond
	startAgent(t, cfg)
	for i := 0; i < 3; i++ {
		m, err := sub.NextMsg(wait)
		if err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
		var hb wire.Heartbeat
		if err := jsonUnmarshal(m.Data, &hb); err != nil {
			t.Fatal(err)
		}
		if hb.PCID != "pc1" || hb.AgentVersion != "test" || hb.OS == "" || hb.Arch == "" || hb.AgentRSSBytes == 0 || hb.At.IsZero() {
			t.Fatalf("heartbeat = %+v", hb)
		}
	}
}
