// Package agent is the endpoint daemon of SPEC §5: it receives commands
// over core NATS (plus catch-up from the EXEC stream), runs each once,
// and delivers started events and results through an on-disk outbox.
//
// An Agent keeps all of its state in the struct and its data dir, so a
// swarm simulator can run thousands of them in one process with a shared
// connection and an in-process Executor.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/agent/localsched"
	"github.com/kanade-dev/kanade/internal/agentconfig"
	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/scheduler/clock"
)

// Config configures one agent. Zero values get the documented defaults.
type Config struct {
	PCID    string // default ident.Sanitize(hostname)
	NATSURL string // comma-separated list is fine; unused when Conn is set
	DataDir string // required: seen ids, run markers, outbox, scratch
	// The four settings below follow KV agent_config (SPEC §5) when zero;
	// a non-zero value pins the setting and wins over every KV layer
	// (that is how an explicitly given command-line flag wins).
	HeartbeatInterval time.Duration // default 30s
	InventoryInterval time.Duration // default 24h
	Concurrency       int           // parallel runs, default 4
	OutputCap         int           // bytes kept per stream, default 1 MiB
	Executor          Executor      // nil = &ShellExecutor{}
	// Conn is a shared connection (swarm simulator). The agent neither
	// closes it nor installs handlers on it. nil = dial NATSURL.
	Conn    *nats.Conn
	Version string
	Logger  *slog.Logger

	// NoFsync skips fsync of the outbox and the seen log. Only for
	// simulators: without fsync a power loss may lose or re-run work.
	NoFsync bool
	// ShutdownGrace is how long Run waits for running commands after ctx
	// ends before killing them (they report killed). Default 10s.
	ShutdownGrace time.Duration
	// SeenRetention bounds the dedup memory. It must exceed the EXEC
	// stream's max age (7 days) so catch-up never re-runs a command.
	// Default 8 days.
	SeenRetention time.Duration
	// NoProcessStats leaves RSS/CPU out of heartbeats; a simulator with
	// thousands of agents in one process would only repeat the same
	// numbers at the cost of /proc reads.
	NoProcessStats bool
	// Inventory collects the facts published at start and every
	// inventory interval; nil = inventory.Collect. A simulator can hand
	// out a tiny fixed map here.
	Inventory func(context.Context) (map[string]any, error)
	// NoInventory publishes no inventory at all.
	NoInventory bool
	// NoLocalSchedules turns off agent-side schedules (`runs_on: agent`):
	// no subscriptions on the schedules and jobs buckets, no listing on
	// reconnect, no state file. For simulators.
	NoLocalSchedules bool

	// Test hooks for the local schedule ticker.
	localClock clock.Clock
	localPoll  time.Duration
}

const (
	defaultShutdownGrace = 10 * time.Second
	defaultSeenRetention = 8 * 24 * time.Hour
	requestTimeout       = 5 * time.Second
	msgBuffer            = 1024
)

func (c Config) withDefaults() (Config, error) {
	if c.PCID == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("default pc id from host name: %w", err)
		}
		c.PCID = ident.Sanitize(h)
	}
	if err := ident.Check("pc_id", c.PCID); err != nil {
		return c, err
	}
	if c.DataDir == "" {
		return c, errors.New("data dir: must not be empty")
	}
	if c.Conn == nil && c.NATSURL == "" {
		return c, errors.New("nats url: must not be empty without a shared connection")
	}
	if c.Inventory == nil {
		c.Inventory = sharedCollect
	}
	if c.Executor == nil {
		c.Executor = &ShellExecutor{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = defaultShutdownGrace
	}
	if c.SeenRetention <= 0 {
		c.SeenRetention = defaultSeenRetention
	}
	return c, nil
}

// Agent is one endpoint daemon.
type Agent struct {
	cfg        Config
	log        *slog.Logger
	seen       *seenStore
	outbox     *outbox
	runsDir    string
	scratchDir string
	hostname   string
	bootTime   time.Time
	proc       *procStats // nil when NoProcessStats
	pins       pins
	limit      *limiter
	outputCap  atomic.Int64
	local      *localsched.Ticker // nil when NoLocalSchedules

	started atomic.Bool
	ready   chan struct{}
	readyMu sync.Once

	// Set by Run before any goroutine starts.
	nc        *nats.Conn
	js        jetstream.JetStream
	msgs      chan *nats.Msg
	cfgKick   chan struct{}
	invKick   chan struct{}
	invDue    atomic.Bool // an inventory is owed (not yet published)
	localFull atomic.Bool // the next sync lists schedules and jobs
	localJobs atomic.Bool // the next sync fetches jobs named by new schedules
	localGen  atomic.Uint64
	runsCtx   context.Context
	syncKick  chan struct{}
	needFull  atomic.Bool
	runsWG    sync.WaitGroup
	execStrm  jetstream.Stream   // sync goroutine only
	groupsKV  jetstream.KeyValue // sync goroutine only
	configKV  jetstream.KeyValue // sync goroutine only
	schedKV   jetstream.KeyValue // sync goroutine only
	jobsKV    jetstream.KeyValue // sync goroutine only
	fixedSubs []*nats.Subscription

	mu        sync.Mutex
	closing   bool
	active    map[string][]*run // exec id → runs not yet finished
	killed    map[string]time.Time
	groupSubs map[string]*nats.Subscription
	groupsGen uint64              // bumped by every live group change
	catchUpQ  map[string]struct{} // subjects still to catch up

	layers       map[string]agentconfig.Settings // scope → layer, only scopes that apply
	cfgGen       map[string]uint64               // scope → live changes seen
	cfgReadQ     map[string]struct{}             // scopes still to read
	groupCfgSubs map[string]*nats.Subscription
	cacheLoaded  bool
}

// New validates cfg and opens the agent's on-disk state. It does not
// touch the network.
func New(cfg Config) (*Agent, error) {
	p := pinsOf(cfg)
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:          cfg,
		pins:         p,
		cfgKick:      make(chan struct{}, 1),
		invKick:      make(chan struct{}, 1),
		layers:       map[string]agentconfig.Settings{},
		cfgGen:       map[string]uint64{},
		cfgReadQ:     map[string]struct{}{},
		groupCfgSubs: map[string]*nats.Subscription{},
		log:          cfg.Logger.With("pc_id", cfg.PCID),
		runsDir:      filepath.Join(cfg.DataDir, "runs"),
		scratchDir:   filepath.Join(cfg.DataDir, "scratch"),
		ready:        make(chan struct{}),
		active:       map[string][]*run{},
		killed:       map[string]time.Time{},
		groupSubs:    map[string]*nats.Subscription{},
		catchUpQ:     map[string]struct{}{},
	}
	for _, d := range []string{cfg.DataDir, a.runsDir, a.scratchDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir %s: %w", d, err)
		}
	}
	if a.outbox, err = openOutbox(filepath.Join(cfg.DataDir, "outbox"), !cfg.NoFsync); err != nil {
		return nil, err
	}
	if a.seen, err = openSeen(cfg.DataDir, cfg.SeenRetention, !cfg.NoFsync, time.Now()); err != nil {
		return nil, err
	}
	// Built-in defaults until the cached or KV layers are known.
	a.applyRunSettings(p.effective(cfg.PCID, nil, nil))
	if err := a.newLocal(); err != nil {
		return nil, err
	}
	a.hostname, _ = os.Hostname()
	a.bootTime = bootTime()
	if !cfg.NoProcessStats {
		// Kept for the agent's life: CPU% is the delta since the previous
		// heartbeat's sample.
		a.proc = &procStats{}
	}
	return a, nil
}

// PCID is the agent's identity.
func (a *Agent) PCID() string { return a.cfg.PCID }

// Ready is closed once subscriptions are in place and the first catch-up
// from EXEC is done. It stays open while the broker is unreachable.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// PendingOutbox is the number of messages waiting for a broker ack.
func (a *Agent) PendingOutbox() int { return a.outbox.Len() }

func (a *Agent) markReady() { a.readyMu.Do(func() { close(a.ready) }) }

// Run connects, serves commands until ctx ends, then shuts down
// gracefully. Network trouble never ends it; only ctx does (or a local
// failure such as an unusable connection option). An Agent runs once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent already started")
	}
	defer a.seen.Close()
	if err := a.connect(); err != nil {
		return err
	}
	if a.cfg.Conn == nil {
		defer a.nc.Close()
	}
	status := a.nc.StatusChanged(nats.CONNECTED)
	defer a.nc.RemoveStatusListener(status)

	if err := a.subscribeFixed(); err != nil {
		return err
	}
	a.loadCache()
	runsCtx, killRuns := context.WithCancel(context.Background())
	defer killRuns()
	a.runsCtx = runsCtx
	a.recover()

	bg, stopBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	bgWG.Add(2)
	go func() { defer bgWG.Done(); a.outboxLoop(bg) }()
	go func() { defer bgWG.Done(); a.syncLoop(bg) }()
	if !a.cfg.NoInventory {
		a.invDue.Store(true)
		bgWG.Go(func() { a.inventoryLoop(bg) })
	}
	if a.local != nil {
		// Stopped with the intake (ctx): a fire during shutdown would
		// only leave a marker for the next start.
		bgWG.Go(func() { _ = a.local.Run(ctx) })
	}

	a.serve(ctx, status)

	a.shutdown(killRuns)
	stopBG()
	bgWG.Wait()
	a.finalFlush()
	return nil
}

func (a *Agent) connect() error {
	a.nc = a.cfg.Conn
	if a.nc == nil {
		nc, err := bus.Connect(a.cfg.NATSURL, "kanade-agent "+a.cfg.PCID)
		if err != nil {
			return err
		}
		a.nc = nc
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream context: %w", err)
	}
	a.js = js
	a.msgs = make(chan *nats.Msg, msgBuffer)
	a.syncKick = make(chan struct{}, 1)
	return nil
}

// serve is the agent's event loop: one goroutine per agent routes every
// message (commands, kills, group changes) and the timers, which keeps a
// swarm of agents cheap.
func (a *Agent) serve(ctx context.Context, status chan nats.Status) {
	cur := a.currentSettings()
	a.applyRunSettings(cur)
	hb := time.NewTicker(cur.heartbeat)
	defer hb.Stop()
	inv := time.NewTicker(cur.inventory)
	defer inv.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	if a.nc.IsConnected() {
		a.onConnected()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.msgs:
			a.route(m)
		case <-status:
			a.onConnected()
		case <-hb.C:
			a.heartbeat()
		case <-inv.C:
			a.requestInventory()
		case <-a.cfgKick:
			cur = a.retime(cur, hb, inv)
		case <-prune.C:
			a.prune(time.Now())
		}
	}
}

// onConnected runs at the first connect and after every reconnect: the
// agent may have missed commands and group changes while away.
func (a *Agent) onConnected() {
	a.heartbeat()
	a.requestSync(true)
	a.outbox.Kick()
	if a.invDue.Load() {
		a.requestInventory()
	}
}

// retime applies changed settings: tickers are reset to the new period
// (the next beat comes one new period from now), concurrency and output
// cap apply to runs not yet started.
func (a *Agent) retime(cur settings, hb, inv *time.Ticker) settings {
	next := a.currentSettings()
	a.applyRunSettings(next)
	if next.heartbeat != cur.heartbeat {
		hb.Reset(next.heartbeat)
	}
	if next.inventory != cur.inventory {
		inv.Reset(next.inventory)
	}
	if next != cur {
		a.log.Info("settings changed", "heartbeat_interval", next.heartbeat, "inventory_interval", next.inventory,
			"concurrency", next.concurrency, "output_cap", next.outputCap)
	}
	return next
}

func (a *Agent) applyRunSettings(s settings) {
	if a.limit == nil {
		a.limit = newLimiter(s.concurrency)
	}
	a.limit.setLimit(s.concurrency)
	a.outputCap.Store(int64(s.outputCap))
}

func (a *Agent) prune(now time.Time) {
	if err := a.seen.Prune(now); err != nil {
		a.log.Warn("prune seen request ids", "err", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, at := range a.killed {
		if now.Sub(at) > killMemory {
			delete(a.killed, id)
		}
	}
}

// shutdown stops intake, gives running commands ShutdownGrace to finish,
// then kills them so their results (killed) are queued before Run returns.
// Commands still waiting for jitter or a slot keep their run marker and
// resume at the next start.
func (a *Agent) shutdown(killRuns context.CancelFunc) {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	a.unsubscribeAll()

	done := make(chan struct{})
	go func() { a.runsWG.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(a.cfg.ShutdownGrace):
	}
	a.log.Info("killing running commands at shutdown", "grace", a.cfg.ShutdownGrace)
	killRuns()
	<-done
}

// finalFlush gives queued messages one short chance to leave before the
// process exits; whatever stays is delivered at the next start.
func (a *Agent) finalFlush() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := a.outbox.Flush(ctx, a.publishEntry); err != nil {
		a.log.Info("outbox entries left for the next start", "pending", a.outbox.Len(), "err", err)
	}
}

// hostInfo is reported in heartbeats.
func (a *Agent) hostInfo() (string, string) { return runtime.GOOS, runtime.GOARCH }
