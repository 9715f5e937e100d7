package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
)

type apiError struct {
	Error  string `json:"error"`
	Fields []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"fields"`
}

func (e apiError) paths() []string {
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	s := startServer(t)
	applyJob(t, s, "good", "echo ok", "10s")
	snapshot := func() string {
		var jobs, audit, execs map[string]any
		s.api(t, "GET", "/api/jobs", nil, &jobs)
		s.api(t, "GET", "/api/executions", nil, &execs)
		s.api(t, "GET", "/api/audit?limit=1000", nil, &audit)
		return fmt.Sprint(jobs["total"], "/", execs["total"], "/", audit["total"])
	}
	// The audit of the good job lands asynchronously; wait for it first.
	testutil.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		var audit store.Page[store.AuditEntry]
		s.api(t, "GET", "/api/audit", nil, &audit)
		if audit.Total != 1 {
			return fmt.Errorf("audit total %d", audit.Total)
		}
		return nil
	})
	before := snapshot()

	cases := []struct {
		name, method, path string
		body               any
		status             int
		fieldPath          string
	}{
		{"invalid yaml", "POST", "/api/jobs", "id: [unclosed", 400, ""},
		{"unknown field", "POST", "/api/jobs", "id: x\nversion: \"1\"\nexecute:\n  shell: sh\n  scirpt: echo\n  timeout: 1m\n", 400, "execute.scirpt"},
		{"missing required", "POST", "/api/jobs", "id: x\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo\n", 400, "execute.timeout"},
		{"id with dot", "POST", "/api/jobs", "id: a.b\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo\n  timeout: 1m\n", 400, "id"},
		{"id with star", "POST", "/api/jobs", "id: \"a*\"\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo\n  timeout: 1m\n", 400, "id"},
		{"oversized body", "POST", "/api/jobs", strings.Repeat("#", 2<<20), 413, ""},
		{"unknown job", "POST", "/api/exec/nope", map[string]any{"target": map[string]any{"all": true}}, 404, ""},
		{"empty target", "POST", "/api/exec/good", map[string]any{"target": map[string]any{}}, 400, "target"},
		{"pc with dot in target", "POST", "/api/exec/good", map[string]any{"target": map[string]any{"pcs": []string{"a.>"}}}, 400, "target.pcs[0]"},
		{"job id with dot in path", "GET", "/api/jobs/a.b", nil, 400, ""},
		{"bad paging", "GET", "/api/agents?limit=abc", nil, 400, ""},
		{"bad execution id", "GET", "/api/executions/not-a-uuid", nil, 400, ""},
		{"group with star", "PUT", "/api/agents/pc1/groups", map[string]any{"groups": []string{"of*ce"}}, 400, "groups[0]"},
		{"bad agent regex", "GET", "/api/agents?q=" + "%28unclosed", nil, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e apiError
			code := s.api(t, tc.method, tc.path, tc.body, &e)
			if code != tc.status {
				t.Fatalf("status %d, want %d (%+v)", code, tc.status, e)
			}
			if e.Error == "" {
				t.Fatalf("no error message in answer")
			}
			if tc.fieldPath != "" && !contains(e.paths(), tc.fieldPath) {
				t.Fatalf("field paths %v do not name %s", e.paths(), tc.fieldPath)
			}
		})
	}
	time.Sleep(time.Second) // an audit event, had one been sent, would land by now
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed state: before %s, after %s", before, after)
	}
}

// every /api route, with a placeholder for path values.
var apiRoutes = []string{
	"GET /api/version", "GET /api/health", "GET /api/whoami", "GET /api/agents", "GET /api/agents/x", "DELETE /api/agents/x",
	"GET /api/groups", "GET /api/agents/x/groups", "PUT /api/agents/x/groups", "POST /api/agents/x/groups",
	"DELETE /api/agents/x/groups/g", "GET /api/jobs", "POST /api/jobs", "POST /api/jobs/validate",
	"GET /api/jobs/x", "DELETE /api/jobs/x", "POST /api/exec/x", "POST /api/run",
	"POST /api/executions/00000000-0000-0000-0000-000000000000/kill", "GET /api/executions",
	"GET /api/executions/00000000-0000-0000-0000-000000000000",
	"GET /api/executions/00000000-0000-0000-0000-000000000000/stream", "GET /api/results",
	"GET /api/results/00000000-0000-0000-0000-000000000000", "GET /api/audit", "GET /api/schedules",
	"POST /api/schedules", "GET /api/schedules/x", "DELETE /api/schedules/x", "POST /api/schedules/x/enable",
	"POST /api/schedules/x/disable", "GET /api/schedules/x/preview", "GET /api/schedules/x/ticks",
	"GET /api/schedules/x/coverage", "GET /api/dead-letters", "GET /api/config/global", "PUT /api/config/global",
	"DELETE /api/config/global", "GET /api/agents/x/effective-config", "GET /api/inventory?field=os",
	"GET /api/inventory/x",
}

func TestTokenModeGuardsEveryRoute(t *testing.T) {
	s := startServer(t, "--auth-token", "s3cret")
	for _, route := range apiRoutes {
		method, path, _ := strings.Cut(route, " ")
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer wrong")
		for _, withHeader := range []bool{false, true} {
			if !withHeader {
				req.Header.Del("Authorization")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s (bad token=%v): status %d, want 401", route, withHeader, resp.StatusCode)
			}
		}
	}
	resp, err := http.Get(s.URL() + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health must stay public: %v %v", err, resp)
	}
	s.token = "s3cret"
	if code := s.api(t, "GET", "/api/agents", nil, nil); code != 200 {
		t.Fatalf("with the token: status %d", code)
	}
}

func TestServerRefusesToStartWithoutCredential(t *testing.T) {
	out, err := exec.Command(kanadeBin, "server", "--data-dir", t.TempDir(), "--http-addr", freeAddr(t),
		"--nats-listen", freeAddr(t)).CombinedOutput()
	if err == nil {
		t.Fatalf("server started without a credential:\n%s", out)
	}
	if !strings.Contains(string(out), "no credential configured") {
		t.Fatalf("unclear refusal:\n%s", out)
	}
}

// TestDevQuickStart runs the README's first command from the repository
// root and runs a job on the local agent it starts.
func TestDevQuickStart(t *testing.T) {
	if _, err := os.Stat("../../go.mod"); err != nil {
		t.Fatalf("not in the repository: %v", err)
	}
	dir := t.TempDir()
	httpAddr, natsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command("go", "run", "./cmd/kanade", "dev", "--data-dir", filepath.Join(dir, "kanade-dev"),
		"--http-addr", httpAddr, "--nats-listen", natsAddr, "--pc-id", "devbox")
	cmd.Dir = "../.."
	p := &proc{t: t, name: "dev", cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = p.out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(15) })

	urlLine := regexp.MustCompile(`dashboard: (http://\S+)/`)
	var base string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base != "http://"+httpAddr {
		t.Fatalf("dev printed no dashboard URL (got %q); stderr:\n%s", base, p.out.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	s := &server{httpAddr: httpAddr, natsAddr: natsAddr, proc: p}
	waitOnline(t, s, "devbox")
	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("dashboard: %v %v", err, resp)
	}
	resp.Body.Close()
	applyJob(t, s, "hello", "echo hello from dev", "30s")
	ans := execJob(t, s, "hello", map[string]any{"target": map[string]any{"all": true}})
	d := waitExecution(t, s, ans.ExecID, 30*time.Second)
	rs := resultsOf(t, s, ans.ExecID)
	if d.Execution.Succeeded != 1 || len(rs) != 1 || !strings.Contains(rs[0].Stdout, "hello from dev") {
		t.Fatalf("dev run: %+v %+v", d.Execution, rs)
	}
}

func TestHealthRollupAndWhoami(t *testing.T) {
	s := startServer(t)
	startAgent(t, s, "h1")
	waitOnline(t, s, "h1")
	var h struct {
		Status string `json:"status"`
		Agents struct {
			Known, Online int
			ByOS          map[string]struct{ Count, Online int } `json:"by_os"`
		} `json:"agents"`
	}
	if code := s.api(t, "GET", "/api/health", nil, &h); code != 200 || h.Status != "ok" {
		t.Fatalf("health: %d %+v", code, h)
	}
	if h.Agents.Known != 1 || h.Agents.Online != 1 || h.Agents.ByOS["linux"].Count != 1 {
		t.Fatalf("rollup: %+v", h.Agents)
	}
	var me map[string]string
	s.api(t, "GET", "/api/whoami", nil, &me)
	if me["role"] != "admin" {
		t.Fatalf("whoami in open mode: %v", me)
	}
}
