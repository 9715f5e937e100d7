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
	page    Page[Agent]
	encoded []byte    // the API's answer for page, once someone asked for it
	from    time.Time // the now it was computed for
	until   time.Time // first instant an online item turns offline
}

// bump is called after every commit that touched agents or agent_groups.
func (c *agentPages) bump() { c.gen.Add(1) }

func cacheable(f AgentFilter) bool { return f.Status == "" }

// get returns the entry for f (its page copied) when it is valid for gen
// g at now.
func (c *agentPages) get(g uint64, f AgentFilter, now time.Time) (agentPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[agentPageKey{f}]
	if !ok || c.at != g || now.Before(e.from) || !now.Before(e.until) {
		return agentPage{}, false
	}
	e.page.Items = slices.Clone(e.page.Items) // non-nil even when empty: encodes as []
	return e, true
}

// setEncoded attaches the encoded answer to the entry of gen g computed
// for from, if that entry is still the one held (the encoding must be of
// that very page: online flags differ between entries of other instants).
func (c *agentPages) setEncoded(g uint64, f AgentFilter, from time.Time, encoded []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[agentPageKey{f}]; ok && c.at == g && e.from.Equal(from) {
		e.encoded = encoded
		c.entries[agentPageKey{f}] = e
	}
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

// ListAgentsJSON is ListAgents encoded by encode, with the encoded
// answer cached next to the page (same exactness rules): a polled first
// page then costs neither the queries nor the encoding.
func (s *Store) ListAgentsJSON(ctx context.Context, f AgentFilter, now time.Time, encode func(Page[Agent]) ([]byte, error)) ([]byte, error) {
	f.Limit, f.Offset = pageBounds(f.Limit, f.Offset)
	if !cacheable(f) {
		p, err := s.listAgents(ctx, f, now)
		if err != nil {
			return nil, err
		}
		return encode(p)
	}
	gen := s.agents.gen.Load() // before reading: see agentPages
	e, ok := s.agents.get(gen, f, now)
	if ok && e.encoded != nil {
		return e.encoded, nil
	}
	if !ok {
		p, err := s.listAgents(ctx, f, now)
		if err != nil {
			return nil, err
		}
		s.agents.put(gen, f, now, p)
		e = agentPage{page: p, from: now}
	}
	enc, err := encode(e.page)
	if err == nil {
		s.agents.setEncoded(gen, f, e.from, enc)
	}
	return enc, err
}

// agentsWriteTx is writeTx for writes to agents or agent_groups.
func (s *Store) agentsWriteTx(ctx context.Context, fn func(*sql.Tx) error) error {
	defer s.agents.bump()
	return s.writeTx(ctx, fn)
}
