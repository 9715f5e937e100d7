package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/wire"
)

// kvGroupsSubject is where JetStream publishes puts and deletes of this
// agent's key. A core subscription on it sees membership changes live
// without an ordered consumer per agent (a 10 000-agent fleet would
// otherwise hold 10 000 consumers); the message is only a trigger to
// re-read the key, so ordering races cannot leave stale groups.
func (a *Agent) kvGroupsSubject() string {
	return "$KV." + wire.BucketAgentGroups + "." + a.cfg.PCID
}

func (a *Agent) fixedSubjects() []string {
	return []string{wire.SubjectCommandsAll, wire.SubjectCommandsPC(a.cfg.PCID)}
}

// subscribeFixed subscribes before the first connect too: nats.go sends
// the subscriptions as soon as a connection is up.
func (a *Agent) subscribeFixed() error {
	subjects := append(a.fixedSubjects(), wire.SubjectKillAny, a.kvGroupsSubject())
	for _, s := range subjects {
		sub, err := a.nc.ChanSubscribe(s, a.msgs)
		if err != nil {
			a.unsubscribeAll()
			return fmt.Errorf("subscribe %s: %w", s, err)
		}
		a.fixedSubs = append(a.fixedSubs, sub)
	}
	return nil
}

func (a *Agent) unsubscribeAll() {
	for _, s := range a.fixedSubs {
		_ = s.Unsubscribe()
	}
	a.fixedSubs = nil
	a.mu.Lock()
	defer a.mu.Unlock()
	for g, s := range a.groupSubs {
		_ = s.Unsubscribe()
		delete(a.groupSubs, g)
	}
}

// route dispatches one message from any of the agent's subscriptions.
func (a *Agent) route(m *nats.Msg) {
	switch {
	case strings.HasPrefix(m.Subject, "commands."):
		a.handleCommand(m.Data, m.Subject)
	case strings.HasPrefix(m.Subject, "kill."):
		a.handleKill(strings.TrimPrefix(m.Subject, "kill."))
	case m.Subject == a.kvGroupsSubject():
		a.requestSync(false)
	}
}

// requestSync asks the sync goroutine to re-read groups and, when full,
// to catch up on every subject. Requests coalesce.
func (a *Agent) requestSync(full bool) {
	if full {
		a.needFull.Store(true)
	}
	select {
	case a.syncKick <- struct{}{}:
	default:
	}
}

// syncLoop owns the broker reads (KV, EXEC) so that slow JetStream
// requests never delay kills or live commands in the event loop.
func (a *Agent) syncLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.syncKick:
		}
		a.syncUntilDone(ctx)
	}
}

func (a *Agent) syncUntilDone(ctx context.Context) {
	backoff := 250 * time.Millisecond
	for {
		err := a.syncOnce(ctx)
		if err == nil {
			return
		}
		a.log.Debug("sync with broker failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-a.syncKick:
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 15*time.Second)
	}
}

var errNotConnected = errors.New("not connected to the broker")

func (a *Agent) syncOnce(ctx context.Context) error {
	if !a.nc.IsConnected() {
		return errNotConnected
	}
	if a.needFull.Swap(false) {
		for _, s := range a.fixedSubjects() {
			a.catchUpQ[s] = struct{}{}
		}
		// Group subjects are queued too: on a reconnect the agent may have
		// missed their newest command even if membership is unchanged.
		for _, g := range a.currentGroups() {
			a.catchUpQ[wire.SubjectCommandsGroup(g)] = struct{}{}
		}
	}
	added, err := a.refreshGroups(ctx)
	if err != nil {
		return err
	}
	for _, g := range added {
		a.catchUpQ[wire.SubjectCommandsGroup(g)] = struct{}{}
	}
	if err := a.catchUp(ctx); err != nil {
		return err
	}
	a.markReady()
	return nil
}

func (a *Agent) currentGroups() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.groupSubs))
	for g := range a.groupSubs {
		out = append(out, g)
	}
	return out
}

// refreshGroups reads this agent's membership and (un)subscribes group
// subjects to match. It returns the groups that were added.
func (a *Agent) refreshGroups(ctx context.Context) ([]string, error) {
	if a.groupsKV == nil {
		kv, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValue, error) {
			return a.js.KeyValue(c, wire.BucketAgentGroups)
		})
		if err != nil {
			return nil, fmt.Errorf("open bucket %s: %w", wire.BucketAgentGroups, err)
		}
		a.groupsKV = kv
	}
	entry, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValueEntry, error) {
		return a.groupsKV.Get(c, a.cfg.PCID)
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return a.setGroups(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	groups, err := parseGroups(entry.Value())
	if err != nil {
		// Keep serving the groups we had: a typo in the bucket must not
		// silently drop this PC out of every group.
		a.log.Warn("ignoring corrupt agent_groups value", "err", err)
		return nil, nil
	}
	return a.setGroups(groups)
}

// parseGroups decodes {"groups":[...]}. Names that are not valid ids
// cannot be subscribed safely and make the whole value corrupt.
func parseGroups(data []byte) ([]string, error) {
	var ag wire.AgentGroups
	if err := json.Unmarshal(data, &ag); err != nil {
		return nil, fmt.Errorf("decode groups: %w", err)
	}
	for _, g := range ag.Groups {
		if err := ident.Check("groups[]", g); err != nil {
			return nil, err
		}
	}
	slices.Sort(ag.Groups)
	return slices.Compact(ag.Groups), nil
}

func (a *Agent) setGroups(groups []string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return nil, nil
	}
	for g, sub := range a.groupSubs {
		if !slices.Contains(groups, g) {
			_ = sub.Unsubscribe()
			delete(a.groupSubs, g)
			a.log.Info("left group", "group", g)
		}
	}
	var added []string
	for _, g := range groups {
		if _, ok := a.groupSubs[g]; ok {
			continue
		}
		sub, err := a.nc.ChanSubscribe(wire.SubjectCommandsGroup(g), a.msgs)
		if err != nil {
			return added, fmt.Errorf("subscribe group %s: %w", g, err)
		}
		a.groupSubs[g] = sub
		added = append(added, g)
		a.log.Info("joined group", "group", g)
	}
	return added, nil
}

// catchUp reads the newest EXEC message of every queued subject and feeds
// it through the live path; the seen store makes a repeat harmless.
func (a *Agent) catchUp(ctx context.Context) error {
	if len(a.catchUpQ) == 0 {
		return nil
	}
	if a.execStrm == nil {
		s, err := withTimeout(ctx, func(c context.Context) (jetstream.Stream, error) {
			return a.js.Stream(c, wire.StreamExec)
		})
		if err != nil {
			return fmt.Errorf("open stream %s: %w", wire.StreamExec, err)
		}
		a.execStrm = s
	}
	for subj := range a.catchUpQ {
		if err := a.catchUpSubject(ctx, subj); err != nil {
			return err
		}
		delete(a.catchUpQ, subj)
	}
	return nil
}

func (a *Agent) catchUpSubject(ctx context.Context, subj string) error {
	msg, err := withTimeout(ctx, func(c context.Context) (*jetstream.RawStreamMsg, error) {
		return a.execStrm.GetLastMsgForSubject(c, subj)
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catch up %s: %w", subj, err)
	}
	a.handleCommand(msg.Data, subj)
	return nil
}

// withTimeout bounds one JetStream request so a half-dead connection
// cannot wedge the sync goroutine.
func withTimeout[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	c, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return f(c)
}
