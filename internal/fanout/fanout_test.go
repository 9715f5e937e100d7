package fanout_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

func TestSubjects(t *testing.T) {
	cases := []struct {
		target manifest.Target
		want   []string
	}{
		{manifest.Target{All: true, Groups: []string{"g"}}, []string{"commands.all"}},
		{manifest.Target{Groups: []string{"b", "a", "b"}}, []string{"commands.group.a", "commands.group.b"}},
		{manifest.Target{Groups: []string{"g"}, PCs: []string{"p2", "p1"}}, []string{"commands.group.g", "commands.pc.p1", "commands.pc.p2"}},
		{manifest.Target{}, nil},
	}
	for _, tc := range cases {
		if got := fanout.Subjects(tc.target); !slices.Equal(got, tc.want) {
			t.Errorf("Subjects(%+v) = %v, want %v", tc.target, got, tc.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]float64{"95%": 95, "100": 100, " 0% ": 0} {
		if got, err := fanout.ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "101%", "-1%", "abc"} {
		if _, err := fanout.ParsePercent(bad); err == nil {
			t.Errorf("ParsePercent(%q) accepted", bad)
		}
	}
}

func TestWaveRequestIDIsStable(t *testing.T) {
	exec := "9b2f8c1e-8a5e-4c1e-9d8b-2b9f3c4d5e6f"
	if fanout.WaveRequestID(exec, 1) != fanout.WaveRequestID(exec, 1) {
		t.Fatal("wave request id changes between calls")
	}
	if fanout.WaveRequestID(exec, 0) == fanout.WaveRequestID(exec, 1) {
		t.Fatal("two waves share a request id")
	}
}

// newFanout is a Fanout on a real broker and SQLite file, with a job.
func newFanout(t *testing.T) (*testutil.Broker, *store.Store, *fanout.Fanout, *manifest.Job) {
	t.Helper()
	b := testutil.RunJetStream(t)
	st, err := store.Open(filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	job := &manifest.Job{ID: "j", Version: "1", Execute: manifest.Execute{Shell: "sh", Script: "true", Timeout: manifest.Duration(time.Minute)}}
	return b, st, &fanout.Fanout{JS: b.JS, Store: st}, job
}

// One exec publishes one Command (one request id) to every subject of its
// target, records the execution and counts the PCs it resolved to.
func TestExecPublishesOneCommandToEverySubject(t *testing.T) {
	b, st, f, job := newFanout(t)
	ctx := context.Background()
	ans, err := f.Exec(ctx, job, manifest.Plan{Target: manifest.Target{PCs: []string{"p1", "p2", "p1"}}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if ans.TargetCount != 2 || len(ans.Subjects) != 2 {
		t.Fatalf("answer %+v", ans)
	}
	stream, err := b.JS.Stream(ctx, wire.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, subj := range ans.Subjects {
		msg, err := stream.GetLastMsgForSubject(ctx, subj)
		if err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
		var cmd wire.Command
		if err := json.Unmarshal(msg.Data, &cmd); err != nil {
			t.Fatal(err)
		}
		ids[cmd.RequestID] = true
		if cmd.ExecID != ans.ExecID || cmd.TimeoutSecs != 60 {
			t.Fatalf("command %+v", cmd)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d request ids across subjects, want 1", len(ids))
	}
	e, err := st.GetExecution(ctx, ans.ExecID)
	if err != nil || e.TargetCount != 2 || e.InitiatedBy != "tester" {
		t.Fatalf("execution row %+v, %v", e, err)
	}
}

// Dispatch tells its caller each subject once the broker holds the
// command there (the scheduler marks a PC only then), for a single
// subject and for many.
func TestDispatchReportsEachSubjectAfterItsAck(t *testing.T) {
	b, _, f, job := newFanout(t)
	ctx := context.Background()
	stream, err := b.JS.Stream(ctx, wire.StreamExec)
	if err != nil {
		t.Fatal(err)
	}
	for _, pcs := range [][]string{{"solo"}, {"p1", "p2", "p3", "p4"}} {
		var got []string
		accepted := func(subj string) {
			if _, err := stream.GetLastMsgForSubject(ctx, subj); err != nil {
				t.Errorf("%s reported before the broker held it: %v", subj, err)
			}
			got = append(got, subj)
		}
		ans, err := f.Dispatch(ctx, job, manifest.Plan{Target: manifest.Target{PCs: pcs}}, "tester", accepted)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, ans.Subjects) {
			t.Fatalf("reported %v, published to %v", got, ans.Subjects)
		}
	}
}
