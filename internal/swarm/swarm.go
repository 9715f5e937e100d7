// Package swarm runs many real agents (package agent) in one process
// against a real broker, for benchmarks and load tests.
//
// Every simulated agent is an agent.Agent running the production code
// paths: subscriptions, catch-up from EXEC, request-id dedup, deadline,
// jitter, outbox, heartbeats, started events and results. The one
// difference from a fleet of `kanade agent` processes is the executor: an
// in-process function sleeps for a drawn run time and succeeds or fails
// instead of spawning a shell, because thousands of shells would measure
// fork/exec on this box rather than kanade.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kanade-dev/kanade/internal/agent"
	"github.com/kanade-dev/kanade/internal/bus"
)

// Options configures a swarm.
type Options struct {
	Agents  int    // simulated agents in this process
	NATSURL string // broker URL(s)
	// Prefix and FirstIndex name the agents Prefix + zero-padded index,
	// so several swarm processes (shards) can build one fleet.
	Prefix     string
	FirstIndex int
	// DataDir holds one sub-directory per agent. Empty = a fresh temp dir
	// on tmpfs (/dev/shm) when present, removed by Close.
	DataDir           string
	HeartbeatInterval time.Duration // default 30s, as a real agent
	// SharedConns > 0 multiplexes the agents over that many connections;
	// 0 gives each agent its own connection, as a real fleet has (the
	// broker's per-connection costs are part of what is measured).
	SharedConns  int
	Concurrency  int     // per agent; default as the agent's
	FailureRatio float64 // fraction of runs that exit 1, in [0, 1]
	Runtime      Range   // run time drawn uniformly per run
	// Fsync keeps the agents' outbox and seen-log fsyncs. Off by default:
	// thousands of agents share one disk here, a fleet has one each.
	Fsync bool
	// ReadyTimeout bounds the wait for every agent to subscribe and
	// catch up. Default 2 minutes.
	ReadyTimeout time.Duration
	Logger       *slog.Logger // default: discard (10 000 agents log a lot)
}

// Swarm is a running set of simulated agents.
type Swarm struct {
	opts    Options
	tempDir bool
	conns   []*nats.Conn
	agents  []*agent.Agent
	exec    *Executor
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// PCID names agent i of a swarm with the given prefix.
func PCID(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

func (o Options) withDefaults() (Options, error) {
	if o.Agents <= 0 {
		return o, errors.New("agents: must be positive")
	}
	if o.NATSURL == "" {
		return o, errors.New("nats url: must not be empty")
	}
	if o.FailureRatio < 0 || o.FailureRatio > 1 {
		return o, fmt.Errorf("failure ratio: want 0..1, got %v", o.FailureRatio)
	}
	if o.Prefix == "" {
		o.Prefix = "sim-"
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 30 * time.Second
	}
	if o.ReadyTimeout <= 0 {
		// 10 000 agents catching up and publishing inventory at once on
		// two cores take minutes, as a real fleet's restart storm would.
		o.ReadyTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Start connects and starts every agent, and returns once all of them
// are subscribed and caught up (agent.Ready).
func Start(ctx context.Context, opts Options) (*Swarm, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := CheckFDs(opts.Agents, opts.SharedConns); err != nil {
		return nil, err
	}
	s := &Swarm{opts: opts, exec: NewExecutor(opts.FailureRatio, opts.Runtime)}
	if err := s.prepareDir(); err != nil {
		return nil, err
	}
	if err := s.build(); err != nil {
		s.Close()
		return nil, err
	}
	s.run()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Swarm) prepareDir() error {
	if s.opts.DataDir != "" {
		return os.MkdirAll(s.opts.DataDir, 0o700)
	}
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "kanade-swarm-")
	if err != nil {
		return fmt.Errorf("create swarm data dir: %w", err)
	}
	s.opts.DataDir, s.tempDir = dir, true
	return nil
}

// DataDir is where the agents keep their state.
func (s *Swarm) DataDir() string { return s.opts.DataDir }

// build opens connections and agents. Dialing is done from a few
// goroutines: 10 000 sequential TLS-less dials still take seconds.
func (s *Swarm) build() error {
	n := s.opts.Agents
	s.agents = make([]*agent.Agent, n)
	if s.opts.SharedConns > 0 {
		s.conns = make([]*nats.Conn, s.opts.SharedConns)
	} else {
		s.conns = make([]*nats.Conn, n)
	}
	if err := parallel(len(s.conns), s.dial); err != nil {
		return err
	}
	return parallel(n, s.newAgent)
}

func (s *Swarm) dial(i int) error {
	nc, err := bus.Connect(s.opts.NATSURL, fmt.Sprintf("kanade-swarm %d", s.opts.FirstIndex+i))
	if err != nil {
		return err
	}
	s.conns[i] = nc
	return nil
}

func (s *Swarm) newAgent(i int) error {
	pc := PCID(s.opts.Prefix, s.opts.FirstIndex+i)
	a, err := agent.New(agent.Config{
		PCID:              pc,
		DataDir:           filepath.Join(s.opts.DataDir, pc),
		HeartbeatInterval: s.opts.HeartbeatInterval,
		Concurrency:       s.opts.Concurrency,
		Executor:          s.exec,
		Conn:              s.conns[i%len(s.conns)],
		Version:           "swarm",
		Logger:            s.opts.Logger,
		NoFsync:           !s.opts.Fsync,
		NoProcessStats:    true,
		Inventory:         staticInventory,
		ShutdownGrace:     time.Second,
	})
	if err != nil {
		return fmt.Errorf("agent %s: %w", pc, err)
	}
	s.agents[i] = a
	return nil
}

func (s *Swarm) run() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, a := range s.agents {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := a.Run(ctx); err != nil {
				s.opts.Logger.Error("swarm agent stopped", "pc_id", a.PCID(), "err", err)
			}
		}()
	}
}

func (s *Swarm) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	for i, a := range s.agents {
		select {
		case <-a.Ready():
		case <-ctx.Done():
			return fmt.Errorf("swarm: %d of %d agents ready: %w", i, len(s.agents), ctx.Err())
		}
	}
	return nil
}

// Agents is the number of simulated agents.
func (s *Swarm) Agents() int { return len(s.agents) }

// PCIDs lists the agents' ids in index order.
func (s *Swarm) PCIDs() []string {
	out := make([]string, len(s.agents))
	for i, a := range s.agents {
		out[i] = a.PCID()
	}
	return out
}

// Executor is the in-process executor the agents share.
func (s *Swarm) Executor() *Executor { return s.exec }

// PendingOutbox sums the agents' undelivered messages.
func (s *Swarm) PendingOutbox() int {
	n := 0
	for _, a := range s.agents {
		n += a.PendingOutbox()
	}
	return n
}

// Close stops every agent (each flushes its outbox briefly), closes the
// connections and removes a temp data dir.
func (s *Swarm) Close() {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	for _, nc := range s.conns {
		if nc != nil {
			nc.Close()
		}
	}
	if s.tempDir {
		_ = os.RemoveAll(s.opts.DataDir)
	}
}

// parallel runs f(0..n-1) on a few workers and returns the first error.
func parallel(n int, f func(int) error) error {
	const workers = 32
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// staticInventory stands in for host-fact collection: 10 000 agents in
// one process would read the same /proc and disks 10 000 times. The
// facts are still published to INVENTORY by the real agent code.
func staticInventory(context.Context) (map[string]any, error) {
	return map[string]any{"os": map[string]any{"name": "swarm"}, "simulated": true}, nil
}
