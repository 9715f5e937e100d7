package store

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// agentPages caches pages of GET /api/agents. A dashboard polls the same
// first page over and over; reading it (count, 100 rows, their groups)
// was most of that request's CPU.
//
// It is exact, like detailCache: every commit that writes agents or
// agent_groups bumps gen afterwards, a read notes gen before querying and
// caches under that gen, so a cached page is never older than the gen it
// is served for. The one input that changes without a write is time: an
// agent's online flag flips OnlineWindow after its last heartbeat. A page
// is served only before the earliest such flip among its items, and only
// for filters whose membership does not depend on time (no status).
type agentPages struct {
	gen atomic.Uint64

	mu      sync.Mutex
	at      uint64 // gen the entries belong to
	entries map[agentPageKey]agentPage
}

// agentPagesMax bounds the entries kept for one gen.
const agentPagesMax = 256

type agentPageKey struct {
	f AgentFilter
}

type agentPage struct {
	page  Page[Agent]
	from  time.Time // the now it was computed for
	until time.Time // first instant an online item turns offline
}

// bump is called after every commit that touched agents or agent_groups.
func (c *agentPages) bump() { c.gen.Add(1) }

func cacheable(f AgentFilter) bool { return f.Status == "" }

// get returns a copy of a page valid for gen g at now.
func (c *agentPages) get(g uint64, f AgentFilter, now time.Time) (Page[Agent], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[agentPageKey{f}]
	if !ok || c.at != g || now.Before(e.from) || !now.Before(e.until) {
		return Page[Agent]{}, false
	}
	p := e.page
	p.Items = slices.Clone(e.page.Items) // non-nil even when empty: encodes as []
	return p, true
}

// put stores a page read under gen g for now; a page of an older gen
// than the entries held is dropped.
func (c *agentPages) put(g uint64, f AgentFilter, now time.Time, p Page[Agent]) {
	until := now.Add(OnlineWindow)
	for _, a := range p.Items {
		if flip := a.LastHeartbeat.Add(OnlineWindow); a.Online && flip.Before(until) {
			until = flip
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case g < c.at:
		return
	case g > c.at || c.entries == nil || len(c.entries) >= agentPagesMax:
		c.at, c.entries = g, map[agentPageKey]agentPage{}
	}
	p.Items = slices.Clone(p.Items)
	c.entries[agentPageKey{f}] = agentPage{page: p, from: now, until: until}
}

// agentsWriteTx is writeTx for writes to agents or agent_groups.
func (s *Store) agentsWriteTx(ctx context.Context, fn func(*sql.Tx) error) error {
	defer s.agents.bump()
	return s.writeTx(ctx, fn)
}
