package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

func TestAgo(t *testing.T) {
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	pinNow(t, base)
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{base, "just now"},
		{base.Add(-45 * time.Second), "45s ago"},
		{base.Add(-3 * time.Minute), "3m ago"},
		{base.Add(-(2*time.Hour + 5*time.Minute)), "2h5m ago"},
		{base.Add(-30 * time.Hour), "30h ago"},
		{base.Add(-72 * time.Hour), "3d ago"},
		{base.Add(90 * time.Minute), "in 1h30m"},
	}
	for _, tc := range cases {
		if got := ago(tc.t); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestTotals(t *testing.T) {
	cases := []struct {
		shown, total, offset int
		want                 string
	}{
		{3, 3, 0, "showing 3 of 3\n"},
		{100, 10000, 0, "showing 1-100 of 10000\n"},
		{100, 10000, 200, "showing 201-300 of 10000\n"},
		{0, 5, 10, "showing 0 of 5 (offset 10)\n"},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		totals(&b, tc.shown, tc.total, tc.offset)
		if b.String() != tc.want {
			t.Errorf("totals(%d,%d,%d) = %q, want %q", tc.shown, tc.total, tc.offset, b.String(), tc.want)
		}
	}
}

func TestAgentTableAligned(t *testing.T) {
	base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	pinNow(t, base)
	page := store.Page[store.Agent]{Total: 2500, Items: []store.Agent{
		{PCID: "web-01", Online: true, OS: "linux", Arch: "amd64", AgentVersion: "1.2.0", Groups: []string{"canary", "office"}, LastHeartbeat: base.Add(-10 * time.Second)},
		{PCID: "a-very-long-pc-name", OS: "windows", Arch: "arm64", LastHeartbeat: base.Add(-3 * time.Hour)},
	}}
	var b bytes.Buffer
	if err := agentTable(&b, page); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"PC                   STATUS   OS       ARCH   VERSION  GROUPS         LAST HEARTBEAT\n" +
		"web-01               online   linux    amd64  1.2.0    canary,office  10s ago\n" +
		"a-very-long-pc-name  offline  windows  arm64  -        -              3h ago\n" +
		"showing 1-2 of 2500\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCellKeepsRowsOnOneLine(t *testing.T) {
	if got := cell("a\nb\tc\r"); got != "a b c" {
		t.Fatalf("got %q", got)
	}
	if got := cell(""); got != "-" {
		t.Fatalf("got %q", got)
	}
}

func TestWriteJSONIndents(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, []byte(`{"b":1,"a":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}\n"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
}

func TestWriteYAMLKeepsOrderAndTypes(t *testing.T) {
	raw := `{"id":"cleanup","version":"1.0","execute":{"shell":"sh","script":"echo a\necho b\n","timeout":"10m"},"n":3,"flag":"true","empty":[]}`
	var b bytes.Buffer
	if err := writeYAML(&b, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	want := "id: cleanup\n" +
		"version: \"1.0\"\n" +
		"execute:\n" +
		"  shell: sh\n" +
		"  script: |\n" +
		"    echo a\n" +
		"    echo b\n" +
		"  timeout: 10m\n" +
		"n: 3\n" +
		"flag: \"true\"\n" +
		"empty: []\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWhenAndTargetText(t *testing.T) {
	cases := []struct {
		w    manifest.When
		want string
	}{
		{manifest.When{PerPC: &manifest.Repeat{Once: true}}, "per pc once"},
		{manifest.When{PerPC: &manifest.Repeat{Every: manifest.Duration(24 * time.Hour)}}, "per pc every 1d"},
		{manifest.When{PerTarget: &manifest.Repeat{Every: manifest.Duration(90 * time.Minute)}}, "per target every 1h30m"},
		{manifest.When{Calendar: &manifest.Calendar{At: "09:00", Days: []string{"mon-fri"}}}, "at 09:00 on mon-fri"},
		{manifest.When{}, "-"},
	}
	for _, tc := range cases {
		if got := whenText(tc.w); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	if got := targetOf(manifest.Target{Groups: []string{"a", "b"}, PCs: []string{"x"}}); got != "groups=a,b pcs=x" {
		t.Errorf("target %q", got)
	}
	if got := targetText([]byte(`{"all":true}`)); got != "all" {
		t.Errorf("target text %q", got)
	}
}

func TestExecSummaryAndFailure(t *testing.T) {
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	end := start.Add(1500 * time.Millisecond)
	zero, two := 0, 2
	d := client.ExecutionDetail{
		Execution: store.Execution{TargetCount: 3, Succeeded: 1, Failed: 1, Status: "running", Running: 1},
		Results: []store.Result{
			{PCID: "pc-b", Status: "failure", ExitCode: &two, Stderr: "rm: cannot remove\nsecond line", StartedAt: &start, FinishedAt: &end},
			{PCID: "pc-a", Status: "success", ExitCode: &zero, StartedAt: &start, FinishedAt: &end},
			{PCID: "pc-c", Status: "running", StartedAt: &start},
		},
	}
	var b bytes.Buffer
	if err := execSummary(&b, d); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"PC    STATUS   EXIT  DURATION  STDERR\n" +
		"pc-a  success  0     1.5s      -\n" +
		"pc-b  failure  2     1.5s      rm: cannot remove\n" +
		"pc-c  running  -     -         -\n" +
		"1 succeeded, 1 failed, 0 skipped, 0 lost, 1 running of 3 targeted (running)\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	if !anyFailed(d) {
		t.Fatal("want failure")
	}
	cases := []struct {
		r    store.Result
		fail bool
	}{
		{store.Result{Status: "success"}, false},
		{store.Result{Status: "skipped", SkipReason: "deadline"}, false},
		{store.Result{Status: "failure"}, true},
		{store.Result{Status: "lost"}, true},
		{store.Result{Status: "failure", TimedOut: true}, true},
	}
	for _, tc := range cases {
		if got := anyFailed(client.ExecutionDetail{Results: []store.Result{tc.r}}); got != tc.fail {
			t.Errorf("%+v: failed=%v, want %v", tc.r, got, tc.fail)
		}
	}
}

func TestRunExitCode(t *testing.T) {
	i := func(n int) *int { return &n }
	cases := []struct {
		r    store.Result
		want int
	}{
		{store.Result{Status: "success", ExitCode: i(0)}, 0},
		{store.Result{Status: "failure", ExitCode: i(7)}, 7},
		{store.Result{Status: "failure", ExitCode: i(-1), TimedOut: true}, 1},
		{store.Result{Status: "skipped"}, 1},
		{store.Result{Status: "lost", ExitCode: i(-1)}, 1},
		{store.Result{Status: "failure", ExitCode: i(300)}, 1},
	}
	for _, tc := range cases {
		if got := runExitCode(tc.r); got != tc.want {
			t.Errorf("%+v: got %d, want %d", tc.r, got, tc.want)
		}
	}
}

func TestGroupMembersClipped(t *testing.T) {
	m := strings.Split("a,b,c,d,e,f,g,h,i,j", ",")
	if got := membersText(m); got != "a,b,c,d,e,f,g,h,… (+2)" {
		t.Fatalf("got %q", got)
	}
}
