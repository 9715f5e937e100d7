// Package bench measures kanade at fleet scale: fan-out round trips,
// heartbeat projection and process footprints (this file and
// bench_fanout*, bench_heartbeat*, bench_footprint*, chart*), plus
// projection, scheduler and API figures in their own files.
//
// Measurements run against real processes where the figure is about a
// process (the server's RSS and CPU, one agent's footprint) and against
// the swarm simulator (package swarm) for the fleet.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

// Backend is a running kanade server as the benchmarks see it.
type Backend struct {
	HTTPURL string
	NATSURL string
	DataDir string
	PID     int // 0 when the server runs inside this process
}

// Client is an API client for b (auth is off in benchmarks).
func (b Backend) Client() *client.Client { return client.New(b.HTTPURL, "") }

// DBPath is the server's SQLite projection.
func (b Backend) DBPath() string { return filepath.Join(b.DataDir, "kanade.db") }

// Proc is a child kanade process.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
	out  *tail
}

// StartProc runs bin with args in its own process group; stdout and
// stderr are kept (the last lines) for error reports.
func StartProc(bin string, args ...string) (*Proc, error) {
	p := &Proc{Cmd: exec.Command(bin, args...), done: make(chan struct{}), out: &tail{}}
	p.Cmd.Stdout, p.Cmd.Stderr = p.out, p.out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", bin, strings.Join(args, " "), err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	return p, nil
}

// PID is the child's process id.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Output is the tail of what the child printed.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the child is gone.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group and waits up to 20 s before
// SIGKILL, so agents get to flush and the server to close SQLite.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		<-p.done
	}
}

// WaitLine waits until the child printed a line containing s.
func (p *Proc) WaitLine(ctx context.Context, s string) error {
	for {
		if strings.Contains(p.out.String(), s) {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("process exited before %q:\n%s", s, p.Output())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w\n%s", s, ctx.Err(), p.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail keeps the last 64 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// FreeAddr returns a loopback address nobody listens on right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ServerProc is a `kanade server` child with an embedded broker.
type ServerProc struct {
	*Proc
	Backend Backend
}

// StartServer runs `kanade server` (auth off, fresh ports) on dataDir
// and waits for /health.
func StartServer(ctx context.Context, bin, dataDir string, extra ...string) (*ServerProc, error) {
	httpAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	natsAddr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"server", "--data-dir", dataDir, "--http-addr", httpAddr,
		"--nats-listen", natsAddr, "--auth", "none"}, extra...)
	// KANADE_BENCH_PPROF=127.0.0.1:6060 profiles the server under load
	// (go tool pprof http://127.0.0.1:6060/debug/pprof/profile).
	if addr := os.Getenv("KANADE_BENCH_PPROF"); addr != "" {
		args = append(args, "--pprof", addr)
	}
	p, err := StartProc(bin, args...)
	if err != nil {
		return nil, err
	}
	s := &ServerProc{Proc: p, Backend: Backend{
		HTTPURL: "http://" + httpAddr, NATSURL: "nats://" + natsAddr, DataDir: dataDir, PID: p.PID(),
	}}
	if err := waitHealthy(ctx, s); err != nil {
		p.Stop()
		return nil, err
	}
	return s, nil
}

func waitHealthy(ctx context.Context, s *ServerProc) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(s.Backend.HTTPURL + "/health")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if s.Exited() {
			return fmt.Errorf("server exited:\n%s", s.Output())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not healthy: %w\n%s", ctx.Err(), s.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ProcSample is a process's resource use at one instant (Linux /proc).
type ProcSample struct {
	At     time.Time
	CPU    time.Duration // user + system since start
	RSS    int64         // bytes
	FDs    int
	Thread int
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 100

// SampleProc reads /proc/<pid>/stat and /proc/<pid>/status.
func SampleProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the whole line.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, errors.New("short /proc stat line")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * time.Second / clockTick
	s.RSS, s.Thread = statusFields(pid)
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.FDs = len(ents)
	}
	return s, nil
}

// TreeCPU is the CPU time used so far by pid and every live descendant
// (a swarm of 10 000 agents runs as shard children).
func TreeCPU(pid int) (time.Duration, error) {
	s, err := SampleProc(pid)
	if err != nil {
		return 0, err
	}
	total := s.CPU
	for _, c := range childPIDs(pid) {
		if d, err := TreeCPU(c); err == nil {
			total += d
		}
	}
	return total, nil
}

func childPIDs(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func statusFields(pid int) (rss int64, threads int) {
	st := procStatus(pid)
	return st["VmRSS"] << 10, int(st["Threads"])
}

// procStatus reads the leading number of every field of
// /proc/<pid>/status (kB for the memory fields); nil if unreadable.
func procStatus(pid int) map[string]int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if fs := strings.Fields(v); len(fs) > 0 {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			out[k] = n
		}
	}
	return out
}

// CPUShare is the share of one core used between two samples.
func CPUShare(a, b ProcSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return float64(b.CPU-a.CPU) / float64(wall)
}

// ApplySimJob stores the job the benchmarks run: the swarm's executor
// ignores the script, a real agent would run `true`.
func ApplySimJob(ctx context.Context, c *client.Client, id string) error {
	yaml := fmt.Sprintf("id: %s\nversion: \"1\"\nexecute:\n  shell: sh\n  timeout: 5m\n  script: |\n    true\n", id)
	_, err := c.ApplyJob(ctx, strings.NewReader(yaml), "application/yaml")
	if err != nil {
		return fmt.Errorf("apply job %s: %w", id, err)
	}
	return nil
}

// WaitOnline waits until the server counts want agents online, so that
// an exec to `all` targets the whole fleet.
func WaitOnline(ctx context.Context, c *client.Client, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := -1
	for {
		rep, err := c.ListAgents(ctx, client.AgentFilter{Paging: client.Paging{Limit: 1}, Status: "online"})
		if err == nil {
			last = rep.Value.Total
			if last >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d agents online: %w", last, want, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitExecution polls the execution of a job run once until its status
// is final. It lists by job (one row) rather than reading the execution
// detail, which carries every result row: polling 10 000 rows every few
// milliseconds would load the server it measures.
func WaitExecution(ctx context.Context, c *client.Client, jobID string, every time.Duration) (store.Execution, error) {
	for {
		rep, err := c.ListExecutions(ctx, client.ExecutionFilter{Job: jobID, Paging: client.Paging{Limit: 1}})
		if err == nil && len(rep.Value.Items) > 0 {
			switch e := rep.Value.Items[0]; e.Status {
			case store.StatusCompleted, store.StatusExpired:
				return e, nil
			}
		}
		select {
		case <-ctx.Done():
			return store.Execution{}, fmt.Errorf("execution of %s not final: %w", jobID, ctx.Err())
		case <-time.After(every):
		}
	}
}

// Fleet is a `kanade server` child and a `kanade swarm` child (which
// shards itself when the fd limit requires) connected to it, through the
// server's embedded broker or through a separate broker process.
type Fleet struct {
	Server *ServerProc
	Broker *Proc // nil: the server embeds the broker
	Swarm  *Proc
	Agents int
}

// StartFleet starts a server on dir/server and a swarm of agents with
// the given heartbeat interval, and waits until the swarm is ready and
// the server counts every agent online.
func StartFleet(ctx context.Context, bin, dir string, agents int, hb time.Duration, swarmArgs ...string) (*Fleet, error) {
	srv, err := StartServer(ctx, bin, filepath.Join(dir, "server"))
	if err != nil {
		return nil, err
	}
	return startSwarm(ctx, &Fleet{Server: srv, Agents: agents}, bin, hb, swarmArgs)
}

// StartFleetExternal is StartFleet with the broker in its own process
// (`kanade bench broker`), the deployment SPEC §1 prescribes beyond a few
// thousand PCs: the server connects with --nats-url like the agents.
func StartFleetExternal(ctx context.Context, bin, dir string, agents int, hb time.Duration, swarmArgs ...string) (*Fleet, error) {
	broker, url, err := StartBroker(ctx, bin, filepath.Join(dir, "broker"))
	if err != nil {
		return nil, err
	}
	srv, err := StartServer(ctx, bin, filepath.Join(dir, "server"), "--nats-url", url)
	if err != nil {
		broker.Stop()
		return nil, err
	}
	srv.Backend.NATSURL = url
	return startSwarm(ctx, &Fleet{Server: srv, Broker: broker, Agents: agents}, bin, hb, swarmArgs)
}

// StartBroker runs `kanade bench broker` on dataDir and returns its URL
// once it accepts connections.
func StartBroker(ctx context.Context, bin, dataDir string) (*Proc, string, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	args := []string{"bench", "broker", "--listen", addr, "--data-dir", dataDir}
	// KANADE_BENCH_BROKER_PPROF=127.0.0.1:6061 profiles the broker process.
	if a := os.Getenv("KANADE_BENCH_BROKER_PPROF"); a != "" {
		args = append(args, "--pprof", a)
	}
	p, err := StartProc(bin, args...)
	if err != nil {
		return nil, "", err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.WaitLine(wctx, BrokerReadyLine); err != nil {
		p.Stop()
		return nil, "", err
	}
	return p, "nats://" + addr, nil
}

// BrokerReadyLine is what `kanade bench broker` prints once it serves.
const BrokerReadyLine = "kanade bench broker: ready"

func startSwarm(ctx context.Context, f *Fleet, bin string, hb time.Duration, swarmArgs []string) (*Fleet, error) {
	var err error
	srv, agents := f.Server, f.Agents
	args := append([]string{"swarm", "--agents", strconv.Itoa(agents), "--nats-url", srv.Backend.NATSURL,
		"--heartbeat-interval", hb.String()}, swarmArgs...)
	if f.Swarm, err = StartProc(bin, args...); err != nil {
		f.Stop()
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := f.Swarm.WaitLine(rctx, "kanade swarm: ready"); err != nil {
		f.Stop()
		return nil, err
	}
	if err := WaitOnline(ctx, srv.Backend.Client(), agents, 2*time.Minute); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// Stop ends the swarm first, so the server does not log a fleet of
// disconnects while shutting down.
func (f *Fleet) Stop() {
	if f.Swarm != nil {
		f.Swarm.Stop()
	}
	f.Server.Stop()
	if f.Broker != nil {
		f.Broker.Stop()
	}
}
