package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/agentconfig"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Layered settings (SPEC §5): built-in → global → groups → pc, from KV
// agent_config. Like group membership, the agent follows its keys through
// core subscriptions on their $KV subjects (no consumer per agent) and
// re-reads them on every (re)connect, which covers changes made while it
// was away.

// pins are the settings the operator fixed in Config (command-line
// flags, config file, environment, or a simulator): a non-zero value
// wins over every KV layer, so a flag typed on one machine to debug it is
// not silently overridden by the fleet's config.
type pins struct {
	heartbeat, inventory time.Duration
	concurrency          int
	outputCap            int
}

func pinsOf(c Config) pins {
	return pins{
		heartbeat: max(c.HeartbeatInterval, 0), inventory: max(c.InventoryInterval, 0),
		concurrency: max(c.Concurrency, 0), outputCap: max(c.OutputCap, 0),
	}
}

// settings are the values in force.
type settings struct {
	heartbeat, inventory time.Duration
	concurrency          int
	outputCap            int
}

// effective merges the layers for groups and applies the pins.
func (p pins) effective(pc string, groups []string, layers map[string]agentconfig.Settings) settings {
	eff := agentconfig.Effective(pc, groups, layers)
	s := settings{
		heartbeat:   agentconfig.Duration(eff, "heartbeat_interval"),
		inventory:   agentconfig.Duration(eff, "inventory_interval"),
		concurrency: agentconfig.Int(eff, "concurrency"),
		outputCap:   agentconfig.Int(eff, "output_cap"),
	}
	if p.heartbeat > 0 {
		s.heartbeat = p.heartbeat
	}
	if p.inventory > 0 {
		s.inventory = p.inventory
	}
	if p.concurrency > 0 {
		s.concurrency = p.concurrency
	}
	if p.outputCap > 0 {
		s.outputCap = p.outputCap
	}
	return s
}

const kvConfigPrefix = "$KV." + wire.BucketAgentConfig + "."

func kvConfigSubject(scope string) string { return kvConfigPrefix + scope }

func (a *Agent) fixedConfigScopes() []string { return []string{"global", "pc." + a.cfg.PCID} }

// currentSettings computes the settings in force from the current groups
// and layers.
func (a *Agent) currentSettings() settings {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pins.effective(a.cfg.PCID, slices.Collect(maps.Keys(a.groupSubs)), a.layers)
}

// configChanged tells the event loop to recompute the settings. It never
// blocks: requests coalesce.
func (a *Agent) configChanged() {
	select {
	case a.cfgKick <- struct{}{}:
	default:
	}
}

// applyConfigMsg applies a live change of one of this agent's layers.
func (a *Agent) applyConfigMsg(m *nats.Msg) {
	scope := strings.TrimPrefix(m.Subject, kvConfigPrefix)
	var layer agentconfig.Settings
	switch m.Header.Get("KV-Operation") {
	case "DEL", "PURGE":
	default:
		var err error
		if layer, err = agentconfig.Decode(m.Data); err != nil {
			// The API validates writes; a bad value came around it.
			// Keeping the previous layer beats falling back to defaults.
			a.log.Warn("ignoring corrupt agent_config value", "scope", scope, "err", err)
			return
		}
	}
	a.mu.Lock()
	a.cfgGen[scope]++
	a.setLayerLocked(scope, layer)
	a.mu.Unlock()
	a.configChanged()
}

// setLayerLocked stores (or, for nil, drops) one layer and persists the
// cache when it changed. a.mu must be held.
func (a *Agent) setLayerLocked(scope string, layer agentconfig.Settings) {
	old, had := a.layers[scope]
	if layer == nil {
		if !had {
			return
		}
		delete(a.layers, scope)
	} else {
		if had && maps.EqualFunc(old, layer, func(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) }) {
			return
		}
		a.layers[scope] = layer
	}
	a.saveCacheLocked()
}

// queueConfigReadLocked marks scopes to be read by the sync goroutine.
func (a *Agent) queueConfigReadLocked(scopes ...string) {
	for _, s := range scopes {
		a.cfgReadQ[s] = struct{}{}
	}
}

// subscribeGroupConfigLocked follows group.<g>'s layer while in g.
func (a *Agent) subscribeGroupConfigLocked(g string) error {
	if _, ok := a.groupCfgSubs[g]; ok {
		return nil
	}
	sub, err := a.nc.ChanSubscribe(kvConfigSubject("group."+g), a.msgs)
	if err != nil {
		return fmt.Errorf("subscribe config of group %s: %w", g, err)
	}
	a.groupCfgSubs[g] = sub
	a.queueConfigReadLocked("group." + g)
	return nil
}

func (a *Agent) unsubscribeGroupConfigLocked(g string) {
	if sub, ok := a.groupCfgSubs[g]; ok {
		_ = sub.Unsubscribe()
		delete(a.groupCfgSubs, g)
	}
	// Dropped so the on-disk cache holds only layers that apply.
	a.setLayerLocked("group."+g, nil)
}

// readConfig fetches every queued layer. A live change that arrives while
// a read is in flight is at least as new as the read, which is then
// discarded.
func (a *Agent) readConfig(ctx context.Context) error {
	for {
		scope, ok := a.nextConfigRead()
		if !ok {
			return nil
		}
		if err := a.readLayer(ctx, scope); err != nil {
			return err
		}
		a.mu.Lock()
		delete(a.cfgReadQ, scope)
		a.mu.Unlock()
	}
}

func (a *Agent) nextConfigRead() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for s := range a.cfgReadQ {
		return s, true
	}
	return "", false
}

func (a *Agent) readLayer(ctx context.Context, scope string) error {
	if a.configKV == nil {
		kv, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValue, error) {
			return a.js.KeyValue(c, wire.BucketAgentConfig)
		})
		if err != nil {
			return fmt.Errorf("open bucket %s: %w", wire.BucketAgentConfig, err)
		}
		a.configKV = kv
	}
	a.mu.Lock()
	gen := a.cfgGen[scope]
	a.mu.Unlock()
	entry, err := withTimeout(ctx, func(c context.Context) (jetstream.KeyValueEntry, error) {
		return a.configKV.Get(c, scope)
	})
	var layer agentconfig.Settings
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("read config %s: %w", scope, err)
	default:
		if layer, err = agentconfig.Decode(entry.Value()); err != nil {
			a.log.Warn("ignoring corrupt agent_config value", "scope", scope, "err", err)
			return nil
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfgGen[scope] != gen || !a.appliesLocked(scope) {
		return nil
	}
	a.setLayerLocked(scope, layer)
	a.configChanged()
	return nil
}

// appliesLocked is false for the layer of a group left meanwhile.
func (a *Agent) appliesLocked(scope string) bool {
	g, ok := strings.CutPrefix(scope, "group.")
	if !ok {
		return true
	}
	_, in := a.groupSubs[g]
	return in
}

// cache is what the agent remembers of the broker's view across a
// restart while the broker is down: without it a restart would drop the
// PC out of its groups (and their schedules) and back to built-in
// settings until the broker returns.
type cache struct {
	Groups []string                        `json:"groups"`
	Layers map[string]agentconfig.Settings `json:"layers"`
}

func (a *Agent) cachePath() string { return filepath.Join(a.cfg.DataDir, "broker_cache.json") }

// saveCacheLocked persists groups and layers. a.mu must be held; writes
// are rare (only on changes).
func (a *Agent) saveCacheLocked() {
	if !a.cacheLoaded {
		return // do not overwrite the cache before it was read
	}
	c := cache{Groups: slices.Sorted(maps.Keys(a.groupSubs)), Layers: a.layers}
	data, err := json.Marshal(c)
	if err == nil {
		path := a.cachePath()
		err = writeFileAtomic(path+".tmp", path, data, !a.cfg.NoFsync)
	}
	if err != nil {
		a.log.Warn("cannot cache groups and config", "err", err)
	}
}

// loadCache restores groups and layers before the first connect.
func (a *Agent) loadCache() {
	var c cache
	data, err := os.ReadFile(a.cachePath())
	switch {
	case os.IsNotExist(err):
	case err != nil:
		a.log.Warn("read groups and config cache", "err", err)
	default:
		if err := json.Unmarshal(data, &c); err != nil {
			a.log.Warn("discarding corrupt groups and config cache", "err", err)
			c = cache{}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for scope, l := range c.Layers {
		a.layers[scope] = normalize(l)
	}
	if err := a.setGroupsLocked(c.Groups); err != nil {
		a.log.Warn("restore cached groups", "err", err)
	}
	a.cacheLoaded = true
}

// normalize re-decodes a cached layer so numbers have the same types as
// freshly decoded ones; an unreadable one is dropped.
func normalize(l agentconfig.Settings) agentconfig.Settings {
	data, err := json.Marshal(l)
	if err != nil {
		return nil
	}
	out, err := agentconfig.Decode(data)
	if err != nil {
		return nil
	}
	return out
}

// limiter is a counting semaphore whose limit can change while runs hold
// slots: a lower limit lets running commands finish and admits new ones
// only once the count drops below it.
type limiter struct {
	mu    sync.Mutex
	limit int
	n     int
	wake  chan struct{} // closed and replaced whenever a slot may be free
}

func newLimiter(n int) *limiter { return &limiter{limit: n, wake: make(chan struct{})} }

// acquire waits for a slot. It gives up when kill or stop fires first and
// reports which (killed true for kill).
func (l *limiter) acquire(kill, stop <-chan struct{}) (ok, killed bool) {
	for {
		l.mu.Lock()
		if l.n < l.limit {
			l.n++
			l.mu.Unlock()
			return true, false
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-kill:
			return false, true
		case <-stop:
			return false, false
		}
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	l.n--
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *limiter) setLimit(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n == l.limit {
		return
	}
	l.limit = n
	l.broadcastLocked()
}

func (l *limiter) broadcastLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}
