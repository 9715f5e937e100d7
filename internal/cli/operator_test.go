package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// runCLI runs the real root command against server and returns what it
// printed; KANADE_* from the developer's shell must not leak in.
func runCLI(t *testing.T, server string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv(envServer, "")
	t.Setenv(envToken, "")
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	if server != "" {
		args = append([]string{"--server", server}, args...)
	}
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

// neverCalled fails the test if any request reaches it: flag mistakes must
// be caught before the network.
func neverCalled(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// canned serves fixed bodies by "METHOD /path" and records requests.
type canned struct {
	answers map[string]string
	status  map[string]int
	hits    atomic.Int32
	last    *http.Request
	body    string
}

func (c *canned) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		c.last, c.body = r, string(b)
		key := r.Method + " " + r.URL.Path
		ans, ok := c.answers[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no canned answer for `+key+`"}`)
			return
		}
		if st := c.status[key]; st != 0 {
			w.WriteHeader(st)
		}
		io.WriteString(w, ans)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func pinNow(t *testing.T, at time.Time) {
	old := now
	now = func() time.Time { return at }
	t.Cleanup(func() { now = old })
}

func TestFlagValidationBeforeAnyRequest(t *testing.T) {
	srv := neverCalled(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"exec without target", []string{"exec", "job1"}, "no target: pass --all, --group G or --pc P"},
		{"exec all plus group", []string{"exec", "job1", "--all", "--group", "g"}, "--all already targets every agent"},
		{"exec bad jitter", []string{"exec", "job1", "--all", "--jitter", "soon"}, "invalid --jitter"},
		{"exec bad deadline", []string{"exec", "job1", "--all", "--deadline", "tomorrow"}, "invalid --deadline"},
		{"exec empty pc", []string{"exec", "job1", "--pc", "a,"}, "--pc: empty value"},
		{"bad output", []string{"-o", "xml", "job", "list"}, `invalid --output "xml"`},
		{"bad output long", []string{"job", "list", "--output", "csv"}, "want one of table, json, yaml"},
		{"apply without file", []string{"job", "apply"}, "-f FILE is required"},
		{"negative limit", []string{"agents", "list", "--limit", "-1"}, "--limit and --offset must be >= 0"},
		{"bad agent status", []string{"agents", "list", "--status", "up"}, `invalid --status "up"`},
		{"bad since", []string{"audit", "list", "--since", "yesterday"}, `invalid --since "yesterday"`},
		{"run bad timeout", []string{"run", "pc1", "--timeout", "x", "--", "true"}, "invalid --timeout"},
		{"run empty script", []string{"run", "pc1", "--", " "}, "empty script"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(t, srv.URL, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBadServerURL(t *testing.T) {
	_, _, err := runCLI(t, "localhost:8080", "", "job", "list")
	if err == nil || !strings.Contains(err.Error(), "want http://host:port") {
		t.Fatalf("got %v", err)
	}
}

func TestServerAndTokenPrecedence(t *testing.T) {
	c := &canned{answers: map[string]string{"GET /api/jobs": `{"items":[],"total":0}`}}
	srv := c.start(t)
	t.Run("env used when flag absent", func(t *testing.T) {
		root := newRoot()
		t.Setenv(envServer, srv.URL)
		t.Setenv(envToken, "from-env")
		root.SetOut(io.Discard)
		root.SetArgs([]string{"job", "list"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if got := c.last.Header.Get("Authorization"); got != "Bearer from-env" {
			t.Fatalf("auth %q", got)
		}
	})
	t.Run("flag beats env", func(t *testing.T) {
		root := newRoot()
		t.Setenv(envServer, "http://127.0.0.1:1")
		t.Setenv(envToken, "from-env")
		root.SetOut(io.Discard)
		root.SetArgs([]string{"--server", srv.URL, "--token", "from-flag", "job", "list"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if got := c.last.Header.Get("Authorization"); got != "Bearer from-flag" {
			t.Fatalf("auth %q", got)
		}
	})
}

func TestDeadlineAt(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.FixedZone("JST", 9*3600))
	cases := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"2h", "2026-12-03T02:00:00Z", ""},
		{"1d", "2026-12-04T00:00:00Z", ""},
		{"90s", "2026-12-03T00:01:30Z", ""},
		{"2026-12-05T10:00:00+09:00", "2026-12-05T01:00:00Z", ""},
		{"0s", "", "must be > 0"},
		{"-5m", "", "invalid --deadline"},
		{"later", "", "invalid --deadline"},
	}
	for _, tc := range cases {
		got, err := deadlineAt(tc.in, at)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSince(t *testing.T) {
	pinNow(t, time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	cases := []struct{ in, want string }{
		{"", ""},
		{"1h", "2026-12-03T08:00:00Z"},
		{"7d", "2026-11-26T09:00:00Z"},
		{"2026-12-01T00:00:00+09:00", "2026-11-30T15:00:00Z"},
	}
	for _, tc := range cases {
		got, err := parseSince(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestExecSendsPlan(t *testing.T) {
	pinNow(t, time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	c := &canned{answers: map[string]string{
		"POST /api/exec/cleanup": `{"exec_id":"e1","job_id":"cleanup","version":"1.0","target_count":3,"subjects":["commands.group.canary","commands.pc.x"]}`,
	}}
	srv := c.start(t)
	out, _, err := runCLI(t, srv.URL, "", "exec", "cleanup", "--group", "canary", "--group", "office", "--pc", "x",
		"--jitter", "30s", "--deadline", "2h")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"target":{"groups":["canary","office"],"pcs":["x"]},"jitter":"30s","deadline_at":"2026-12-03T11:00:00Z"}`
	if c.body != want {
		t.Fatalf("body\n got %s\nwant %s", c.body, want)
	}
	if !strings.Contains(out, "exec e1 started: job cleanup version 1.0 on 3 PC(s)") {
		t.Fatalf("out %q", out)
	}
}

func TestApplyContentType(t *testing.T) {
	cases := []struct{ path, body, want string }{
		{"job.yaml", "id: x", "application/yaml"},
		{"job.YML", "id: x", "application/yaml"},
		{"job.json", "id: x", "application/json"},
		{"-", "  {\"id\":\"x\"}", "application/json"},
		{"-", "id: x", "application/yaml"},
	}
	for _, tc := range cases {
		if got := manifestType(tc.path, []byte(tc.body)); got != tc.want {
			t.Errorf("%s %q: got %s, want %s", tc.path, tc.body, got, tc.want)
		}
	}
}

func TestJobApplyFromStdinShowsFieldErrors(t *testing.T) {
	c := &canned{
		answers: map[string]string{"POST /api/jobs": `{"error":"invalid job","fields":[{"path":"execute.scirpt","message":"unknown field"},{"path":"execute.timeout","message":"required"}]}`},
		status:  map[string]int{"POST /api/jobs": 400},
	}
	srv := c.start(t)
	_, _, err := runCLI(t, srv.URL, "id: x\nexecute:\n  scirpt: ls\n", "job", "apply", "-f", "-")
	want := "invalid job\n  execute.scirpt: unknown field\n  execute.timeout: required"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	if c.body != "id: x\nexecute:\n  scirpt: ls\n" || c.last.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("sent %q as %s", c.body, c.last.Header.Get("Content-Type"))
	}
}

func TestUnauthorizedHint(t *testing.T) {
	c := &canned{answers: map[string]string{"GET /api/agents": `{"error":"missing bearer token"}`},
		status: map[string]int{"GET /api/agents": 401}}
	srv := c.start(t)
	_, _, err := runCLI(t, srv.URL, "", "agents", "list")
	if err == nil || !strings.Contains(err.Error(), "missing bearer token\n(pass --token or set KANADE_TOKEN)") {
		t.Fatalf("got %v", err)
	}
}

func TestRunPassesOutputAndExitCode(t *testing.T) {
	c := &canned{answers: map[string]string{
		"POST /api/run": `{"result_id":"r1","pc_id":"pc1","status":"failure","exit_code":3,"stdout":"hello\n","stderr":"boom\n"}`,
	}}
	srv := c.start(t)
	out, errOut, err := runCLI(t, srv.URL, "", "run", "pc1", "--shell", "bash", "--", "echo hello;", "exit 3")
	var ee exitError
	if !asExit(err, &ee) || ee.code != 3 {
		t.Fatalf("err %v, want exit 3", err)
	}
	if out != "hello\n" || errOut != "boom\n" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	if c.body != `{"pc":"pc1","shell":"bash","script":"echo hello; exit 3","timeout":"60s"}` {
		t.Fatalf("body %s", c.body)
	}
}

func asExit(err error, ee *exitError) bool {
	e, ok := err.(exitError)
	if ok {
		*ee = e
	}
	return ok
}

func TestCompletionCommand(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, _, err := runCLI(t, "", "", "completion", sh)
		if err != nil || !strings.Contains(out, "kanade") {
			t.Errorf("%s: err %v, %d bytes", sh, err, len(out))
		}
	}
}
