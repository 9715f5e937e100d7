package projector

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/loop"
	"github.com/kanade-dev/kanade/internal/wire"
)

// hbBuffer keeps the newest heartbeat per PC until the next flush.
type hbBuffer struct {
	mu      sync.Mutex
	pending map[string]wire.Heartbeat
	full    chan struct{} // signalled when FlushPCs PCs are waiting
}

func (h *hbBuffer) init() {
	h.pending = map[string]wire.Heartbeat{}
	h.full = make(chan struct{}, 1)
}

// put keeps hb unless a newer one for the PC is already waiting; it
// reports how many PCs are waiting.
func (h *hbBuffer) put(hb wire.Heartbeat) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.pending[hb.PCID]; !ok || hb.At.After(cur.At) {
		h.pending[hb.PCID] = hb
	}
	return len(h.pending)
}

func (h *hbBuffer) take() []wire.Heartbeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]wire.Heartbeat, 0, len(h.pending))
	for _, hb := range h.pending {
		out = append(out, hb)
	}
	clear(h.pending)
	return out
}

// putBack re-queues a batch whose write failed, newest still winning.
func (h *hbBuffer) putBack(hbs []wire.Heartbeat) {
	for _, hb := range hbs {
		h.put(hb)
	}
}

func (p *Projector) subscribeHeartbeats() (*nats.Subscription, error) {
	sub, err := p.nc.Subscribe(wire.SubjectHeartbeats, p.onHeartbeat)
	if err != nil {
		return nil, fmt.Errorf("subscribe heartbeats: %w", err)
	}
	// A fleet's heartbeats are small; never drop them for a slow flush.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return sub, nil
}

// onHeartbeat validates and buffers one heartbeat. Invalid ones (bad JSON,
// bad pc id, pc id not matching the subject) are counted and dropped.
func (p *Projector) onHeartbeat(m *nats.Msg) {
	var hb wire.Heartbeat
	if err := json.Unmarshal(m.Data, &hb); err != nil || !ident.Valid(hb.PCID) ||
		m.Subject != wire.SubjectHeartbeat(hb.PCID) || hb.At.IsZero() {
		p.stats.HeartbeatsDropped.Add(1)
		return
	}
	if p.hb.put(hb) >= p.opts.FlushPCs {
		select {
		case p.hb.full <- struct{}{}:
		default:
		}
	}
}

// flushLoop writes buffered heartbeats every FlushInterval, or early when
// FlushPCs are waiting, in one transaction per flush.
func (p *Projector) flushLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Best effort on shutdown; heartbeats are not persisted anyway.
			p.flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
		case <-p.hb.full:
		}
		p.flush(ctx)
	}
}

func (p *Projector) flush(ctx context.Context) {
	hbs := p.hb.take()
	if len(hbs) == 0 {
		return
	}
	if err := p.st.UpsertHeartbeats(ctx, hbs); err != nil {
		p.stats.DBErrors.Add(1)
		p.log.Error("flush heartbeats", "n", len(hbs), "err", err)
		p.hb.putBack(hbs)
		return
	}
	p.stats.HeartbeatsWritten.Add(int64(len(hbs)))
}

// reapLoop marks lost runs and expired executions every ReaperInterval.
func (p *Projector) reapLoop(ctx context.Context) {
	loop.Every(ctx, p.opts.ReaperInterval, p.reap)
}

func (p *Projector) reap(ctx context.Context) {
	now := p.opts.Now()
	lost, err := p.st.ReapLost(ctx, now)
	if err != nil {
		p.log.Error("reap lost runs", "err", err)
	}
	expired, err := p.st.ExpireExecutions(ctx, now, p.opts.PendingExpiry)
	if err != nil {
		p.log.Error("expire executions", "err", err)
	}
	p.notify(append(lost, expired...))
}

// watchGroups mirrors KV agent_groups into the agent_groups table. The
// initial values replace the whole mirror (keys deleted while we were away
// disappear); later puts and deletes apply one by one. A watch that ends is
// re-opened.
func (p *Projector) watchGroups(ctx context.Context) {
	var backoff time.Duration
	for ctx.Err() == nil {
		err := p.watchGroupsOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		backoff = p.nextBackoff(backoff)
		p.log.Warn("agent_groups watch ended", "err", err, "retry_in", backoff)
		sleep(ctx, backoff)
	}
}

func (p *Projector) watchGroupsOnce(ctx context.Context) error {
	kv, err := p.js.KeyValue(ctx, wire.BucketAgentGroups)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", wire.BucketAgentGroups, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", wire.BucketAgentGroups, err)
	}
	defer w.Stop()
	initial := map[string][]string{}
	live := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch %s closed", wire.BucketAgentGroups)
			}
			if err := p.groupUpdate(ctx, e, initial, &live); err != nil {
				return err
			}
		}
	}
}

// groupUpdate applies one watch entry; nil marks the end of the initial
// values. A DB error ends the watch so it is re-opened and reconciled.
func (p *Projector) groupUpdate(ctx context.Context, e jetstream.KeyValueEntry, initial map[string][]string, live *bool) error {
	if e == nil {
		*live = true
		if err := p.st.ReplaceAgentGroups(ctx, initial); err != nil {
			return fmt.Errorf("mirror agent groups: %w", err)
		}
		return nil
	}
	pc := e.Key()
	var groups []string
	put := e.Operation() == jetstream.KeyValuePut
	if put {
		var v wire.AgentGroups
		if err := json.Unmarshal(e.Value(), &v); err != nil || !ident.Valid(pc) {
			p.stats.GroupsSkipped.Add(1)
			p.log.Warn("skip corrupt agent_groups value", "pc_id", pc, "err", err)
			return nil
		}
		groups = validGroups(v.Groups)
	}
	if !*live {
		if put {
			initial[pc] = groups
		} else {
			delete(initial, pc)
		}
		return nil
	}
	if err := p.st.SetAgentGroups(ctx, pc, groups); err != nil {
		return fmt.Errorf("mirror groups of %s: %w", pc, err)
	}
	return nil
}

// validGroups drops names that could not have passed the API (they would
// be unusable in a subject anyway).
func validGroups(gs []string) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		if ident.Valid(g) {
			out = append(out, g)
		}
	}
	return out
}
