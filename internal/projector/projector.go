// Package projector turns the broker's streams into the SQLite projection
// (SPEC §4.1): durable pull consumers for RESULTS, EVENTS, AUDIT and
// INVENTORY applied in one transaction per batch and acked after commit;
// core-NATS heartbeats micro-batched; the agent_groups KV mirrored; a
// reaper for lost runs and expired executions.
package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/store"
)

// Options tunes the projector; zero values take the defaults noted.
type Options struct {
	Batch          int           // messages per fetch/transaction (500)
	FetchWait      time.Duration // max wait for a partial batch (500ms)
	FlushInterval  time.Duration // heartbeat flush period (1s)
	FlushPCs       int           // flush early at this many distinct PCs (1000)
	ReaperInterval time.Duration // lost/expired sweep period (30s)
	// PendingExpiry expires an execution without deadline_at that got no
	// started event and no result this long after initiated_at (1h). With
	// deadline_at the limit is deadline_at + store.DeadlineGrace.
	PendingExpiry time.Duration
	// DefaultTimeout stands in for a started event without timeout_secs
	// when computing when the run counts as lost (1h).
	DefaultTimeout time.Duration
	RetryMin       time.Duration // first DB-error backoff (100ms)
	RetryMax       time.Duration // backoff ceiling (10s)
	// AckWait is the consumer's ack wait (15s). A pull whose client-side
	// timer fired before the broker's reply arrived (a loaded box) drops
	// that reply: those messages come back only after AckWait, so a long
	// one stalled a 10 000-PC execution for minutes. A batch applied
	// slower than this is merely redelivered and re-applied idempotently.
	AckWait time.Duration
	// InactiveThreshold lets the broker delete the consumers of a
	// projection that is gone (wiped DB, removed replica) (72h).
	InactiveThreshold time.Duration
	Logger            *slog.Logger
	Now               func() time.Time
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.FlushPCs <= 0 {
		o.FlushPCs = 1000
	}
	def(&o.FetchWait, 500*time.Millisecond)
	def(&o.FlushInterval, time.Second)
	def(&o.ReaperInterval, 30*time.Second)
	def(&o.PendingExpiry, time.Hour)
	def(&o.DefaultTimeout, time.Hour)
	def(&o.RetryMin, 100*time.Millisecond)
	def(&o.RetryMax, 10*time.Second)
	def(&o.AckWait, 15*time.Second)
	def(&o.InactiveThreshold, 72*time.Hour)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Projector owns the projection loops.
type Projector struct {
	js   jetstream.JetStream
	nc   *nats.Conn
	st   *store.Store
	opts Options
	log  *slog.Logger

	instance atomic.Pointer[string] // store.InstanceID, set by Run; read by Lag from other goroutines

	subMu sync.Mutex
	subs  map[string]map[chan struct{}]struct{} // exec id ("" = any) → listeners

	hb hbBuffer

	stats Stats
}

// Stats are counters for metrics and tests.
type Stats struct {
	Applied           atomic.Int64 // stream messages committed
	DeadLetters       atomic.Int64
	DBErrors          atomic.Int64
	HeartbeatsDropped atomic.Int64 // invalid pc id or undecodable
	HeartbeatsWritten atomic.Int64
	GroupsSkipped     atomic.Int64 // corrupt agent_groups values
}

// New builds a projector; Run starts it.
func New(js jetstream.JetStream, nc *nats.Conn, st *store.Store, opts Options) *Projector {
	o := opts.withDefaults()
	p := &Projector{js: js, nc: nc, st: st, opts: o, log: o.Logger.With("component", "projector"),
		subs: map[string]map[chan struct{}]struct{}{}}
	p.hb.init()
	return p
}

// Stats exposes the projector's counters.
func (p *Projector) Stats() *Stats { return &p.stats }

// Run starts every loop and returns when ctx ends (nil) or when setup
// fails (the error).
func (p *Projector) Run(ctx context.Context) error {
	id, err := p.st.InstanceID(ctx)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	p.instance.Store(&id)
	sub, err := p.subscribeHeartbeats()
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	var wg sync.WaitGroup
	loops := []func(context.Context){p.reapLoop, p.flushLoop, p.watchGroups}
	for _, s := range p.streams() {
		loops = append(loops, func(ctx context.Context) { p.consume(ctx, s) })
	}
	for _, l := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); l(ctx) }()
	}
	wg.Wait()
	return nil
}

// ConsumerName is the durable name of the projection instance's consumer
// on stream; it embeds the instance id so a new database replays.
func ConsumerName(instance, stream string) string {
	// v2: explicit acks (a consumer's ack policy cannot change in place).
	return "kanade-proj2-" + instance + "-" + stream
}

// Instance is the projection instance id consumer names embed ("" before
// Run has started).
func (p *Projector) Instance() string {
	if id := p.instance.Load(); id != nil {
		return *id
	}
	return ""
}

// Lag reports, per stream, messages not yet projected (undelivered plus
// delivered but not acked).
func (p *Projector) Lag(ctx context.Context) (map[string]uint64, error) {
	instance := p.Instance()
	if instance == "" {
		return nil, errors.New("projector not running")
	}
	out := map[string]uint64{}
	var errs []error
	for _, s := range p.streams() {
		c, err := p.js.Consumer(ctx, s.stream, ConsumerName(instance, s.stream))
		if err != nil {
			errs = append(errs, fmt.Errorf("lag of %s: %w", s.stream, err))
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("lag of %s: %w", s.stream, err))
			continue
		}
		out[s.stream] = info.NumPending + uint64(info.NumAckPending)
	}
	return out, errors.Join(errs...)
}

// Subscribe returns a channel that receives (coalesced) a value after each
// commit that changed execution execID; "" subscribes to every execution.
// cancel must be called to release it.
func (p *Projector) Subscribe(execID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	p.subMu.Lock()
	if p.subs[execID] == nil {
		p.subs[execID] = map[chan struct{}]struct{}{}
	}
	p.subs[execID][ch] = struct{}{}
	p.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.subMu.Lock()
			delete(p.subs[execID], ch)
			if len(p.subs[execID]) == 0 {
				delete(p.subs, execID)
			}
			p.subMu.Unlock()
		})
	}
}

func (p *Projector) notify(execIDs []string) {
	if len(execIDs) == 0 {
		return
	}
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if len(p.subs) == 0 {
		return
	}
	for _, id := range append(execIDs, "") {
		for ch := range p.subs[id] {
			select {
			case ch <- struct{}{}:
			default: // a signal is already pending; the reader re-reads state
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (p *Projector) nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return p.opts.RetryMin
	}
	return min(2*d, p.opts.RetryMax)
}
