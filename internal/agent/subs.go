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
// otherwise hold 10 000 consumers). The live message itself is applied:
// re-reading the key on a trigger could race the stream's store and
// return the previous value.
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
	for _, scope := range a.fixedConfigScopes() {
		subjects = append(subjects, kvConfigSubject(scope))
	}
	if a.local != nil {
		subjects = append(subjects, kvSchedulesAll, kvJobsAll)
	}
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
	for g, s := range a.groupCfgSubs {
		_ = s.Unsubscribe()
		delete(a.groupCfgSubs, g)
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
		a.applyGroupsMsg(m)
	case strings.HasPrefix(m.Subject, kvConfigPrefix):
		a.applyConfigMsg(m)
	case strings.HasPrefix(m.Subject, "$KV."):
		a.applyLocalMsg(m)
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
		if err := a.fullSync(ctx); err != nil {
			a.needFull.Store(true)
			return err
		}
	}
	if err := a.readConfig(ctx); err != nil {
		return err
	}
	if err := a.catchUp(ctx); err != nil {
		return err
	}
	if err := a.syncLocal(ctx); err != nil {
		return err
	}
	a.markReady()
	return nil
}

// fullSync re-reads membership (changes may have been missed while
// disconnected) and queues every subject for catch-up: the agent may have
// missed the newest command of any of them.
func (a *Agent) fullSync(ctx context.Context) error {
	if err := a.readGroups(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.fixedSubjects() {
		a.catchUpQ[s] = struct{}{}
	}
	for g := range a.groupSubs {
		a.catchUpQ[wire.SubjectCommandsGroup(g)] = struct{}{}
		a.queueConfigReadLocked("group." + g)
	}
	a.queueConfigReadLocked(a.fixedConfigScopes()...)
	if a.local != nil {
		a.localFull.Store(true)
	}
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

// readGroups fetches this agent's membership from KV. A live change that
// arrives while the read is in flight is newer than (or equal to) what
// the read returns, so the read is then discarded.
func (a *Agent) readGroups(ctx context.Context) error {
	if a.groupsKV == nil {
		kv, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValue, error) {
			return a.js.KeyValue(c, wire.BucketAgentGroups)
		})
		if err != nil {
			return fmt.Errorf("open bucket %s: %w", wire.BucketAgentGroups, err)
		}
		a.groupsKV = kv
	}
	a.mu.Lock()
	gen := a.groupsGen
	a.mu.Unlock()
	entry, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValueEntry, error) {
		return a.groupsKV.Get(c, a.cfg.PCID)
	})
	var groups []string
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("read groups: %w", err)
	default:
		if groups, err = parseGroups(entry.Value()); err != nil {
			// Keep serving the groups we had: a typo in the bucket must
			// not silently drop this PC out of every group.
			a.log.Warn("ignoring corrupt agent_groups value", "err", err)
			return nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.groupsGen != gen {
		return nil
	}
	return a.setGroupsLocked(groups)
}

// applyGroupsMsg applies a live KV change of this agent's key.
func (a *Agent) applyGroupsMsg(m *nats.Msg) {
	var groups []string
	switch m.Header.Get("KV-Operation") {
	case "DEL", "PURGE":
	default:
		var err error
		if groups, err = parseGroups(m.Data); err != nil {
			a.log.Warn("ignoring corrupt agent_groups value", "err", err)
			return
		}
	}
	a.mu.Lock()
	a.groupsGen++
	err := a.setGroupsLocked(groups)
	a.mu.Unlock()
	if err != nil {
		// A failed subscribe is retried by re-reading the key.
		a.log.Warn("apply group change", "err", err)
		a.requestSync(true)
		return
	}
	a.requestSync(false)
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

// setGroupsLocked (un)subscribes group subjects to match groups and
// queues the new ones for catch-up. a.mu must be held.
func (a *Agent) setGroupsLocked(groups []string) error {
	if a.closing {
		return nil
	}
	changed := false
	// Groups decide which config layers apply and which local schedules
	// target this PC; both are cached for a restart without a broker.
	defer func() {
		if changed {
			a.saveCacheLocked()
			a.configChanged()
		}
	}()
	for g, sub := range a.groupSubs {
		if !slices.Contains(groups, g) {
			_ = sub.Unsubscribe()
			delete(a.groupSubs, g)
			a.unsubscribeGroupConfigLocked(g)
			changed = true
			a.log.Info("left group", "group", g)
		}
	}
	for _, g := range groups {
		if _, ok := a.groupSubs[g]; ok {
			continue
		}
		if err := a.joinGroupLocked(g); err != nil {
			return err
		}
		changed = true
	}
	return nil
}

// joinGroupLocked subscribes g's commands and config layer; both are
// queued for a read (catch-up, layer).
func (a *Agent) joinGroupLocked(g string) error {
	if err := a.subscribeGroupConfigLocked(g); err != nil {
		return err
	}
	sub, err := a.nc.ChanSubscribe(wire.SubjectCommandsGroup(g), a.msgs)
	if err != nil {
		return fmt.Errorf("subscribe group %s: %w", g, err)
	}
	a.groupSubs[g] = sub
	a.catchUpQ[wire.SubjectCommandsGroup(g)] = struct{}{}
	a.log.Info("joined group", "group", g)
	return nil
}

// catchUp reads the newest EXEC message of every queued subject and feeds
// it through the live path; the seen store makes a repeat harmless.
func (a *Agent) catchUp(ctx context.Context) error {
	for {
		subj, ok := a.nextCatchUp()
		if !ok {
			return nil
		}
		if err := a.catchUpSubject(ctx, subj); err != nil {
			return err
		}
		a.mu.Lock()
		delete(a.catchUpQ, subj)
		a.mu.Unlock()
	}
}

func (a *Agent) nextCatchUp() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for s := range a.catchUpQ {
		return s, true
	}
	return "", false
}

func (a *Agent) execStream(ctx context.Context) (jetstream.Stream, error) {
	if a.execStrm != nil {
		return a.execStrm, nil
	}
	s, err := withTimeout(ctx, func(c context.Context) (jetstream.Stream, error) {
		return a.js.Stream(c, wire.StreamExec)
	})
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", wire.StreamExec, err)
	}
	a.execStrm = s
	return s, nil
}

func (a *Agent) catchUpSubject(ctx context.Context, subj string) error {
	strm, err := a.execStream(ctx)
	if err != nil {
		return err
	}
	msg, err := withTimeout(ctx, func(c context.Context) (*jetstream.RawStreamMsg, error) {
		return strm.GetLastMsgForSubject(c, subj)
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
