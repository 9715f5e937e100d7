// Package e2e runs the real kanade binary: a server process, agent
// processes, and the CLI, against a real broker and SQLite file.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/testutil"
)

// kanadeBin is built once per test binary run.
var kanadeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kanade-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kanadeBin = filepath.Join(dir, "kanade")
	build := exec.Command("go", "build", "-o", kanadeBin, "../../cmd/kanade")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kanade:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a kanade process whose output is kept for failure reports.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(kanadeBin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = procAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, lastLines(p.out.String(), 60))
		}
	})
	return p
}

// stop signals the process group and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// server is a running `kanade server` process.
type server struct {
	*proc
	dataDir  string
	httpAddr string
	natsAddr string
	token    string
	extra    []string
}

func (s *server) URL() string     { return "http://" + s.httpAddr }
func (s *server) NATSURL() string { return "nats://" + s.natsAddr }

// startServer runs `kanade server` with an embedded broker on fresh ports.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s := &server{dataDir: t.TempDir(), httpAddr: freeAddr(t), natsAddr: freeAddr(t), token: "", extra: extra}
	s.launch(t)
	return s
}

func (s *server) launch(t testing.TB) {
	t.Helper()
	args := []string{"server", "--data-dir", s.dataDir, "--http-addr", s.httpAddr, "--nats-listen", s.natsAddr}
	if s.token == "" && !contains(s.extra, "--auth-token") {
		args = append(args, "--auth", "none")
	}
	args = append(args, s.extra...)
	s.proc = startProc(t, "server", nil, args...)
	testutil.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		select {
		case <-s.proc.done:
			return fmt.Errorf("server exited:\n%s", s.proc.out.String())
		default:
		}
		resp, err := http.Get(s.URL() + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// restart kills the server (SIGKILL: no graceful anything) and starts it
// again on the same data dir and ports.
func (s *server) restart(t testing.TB) {
	t.Helper()
	s.proc.stop(syscall.SIGKILL)
	s.launch(t)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// startAgent runs `kanade agent` as its own process.
func startAgent(t testing.TB, srv *server, pcID string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"agent", "--pc-id", pcID, "--nats-url", srv.NATSURL(),
		"--data-dir", filepath.Join(srv.dataDir, "..", "agent-"+pcID), "--heartbeat-interval", "1s"}, extra...)
	return startProc(t, "agent "+pcID, nil, args...)
}

// api calls the server's HTTP API and decodes a JSON answer into out.
func (s *server) api(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// cli runs a kanade CLI verb against the server and returns its output
// and exit code.
func (s *server) cli(t testing.TB, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(kanadeBin, args...)
	cmd.Env = append(os.Environ(), "KANADE_SERVER="+s.URL(), "KANADE_TOKEN="+s.token)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run kanade %v: %v", args, err)
	}
	return string(out), code
}

// procAttr puts a child in its own process group so stop reaches its
// children too (go run spawns the real binary as a grandchild).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
