package store

import "sync"

// detailCache keeps the per-PC rows of recently read executions. At fleet
// size an execution detail is 10 000 rows whose reading and conversion
// cost most of GET /api/executions/{id}; once an execution has settled
// its rows do not change, yet dashboards poll it.
//
// It is exact, not time-based: every write that can change an
// execution's rows invalidates it after its commit, and a read that
// overlapped such a write is not cached (it may have seen the state before
// the commit). Only this process writes the file (one writer), so no
// change escapes it.
type detailCache struct {
	mu      sync.Mutex
	entries map[string]detailEntry
	rows    int                             // total rows held
	reads   map[string]map[*detailRead]bool // reads in flight per execution
}

// detailCacheRows bounds memory (~300 B a row): a few fleet-wide details.
const detailCacheRows = 50_000

type detailRead struct{ dirty bool }

// detailEntry is one execution's rows and, once someone asked for it, the
// encoded answer built from them and the execution row of the same read.
type detailEntry struct {
	rows    []Result
	encoded []byte
}

// get returns a copy of the cached rows of execID.
func (c *detailCache) get(execID string) ([]Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[execID]
	if !ok {
		return nil, false
	}
	return append([]Result(nil), e.rows...), true
}

// getEncoded returns the cached encoded detail of execID, if any.
func (c *detailCache) getEncoded(execID string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[execID]
	return e.encoded, ok && e.encoded != nil
}

// begin registers a read of execID before it queries.
func (c *detailCache) begin(execID string) *detailRead {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reads == nil {
		c.reads = map[string]map[*detailRead]bool{}
	}
	if c.reads[execID] == nil {
		c.reads[execID] = map[*detailRead]bool{}
	}
	r := &detailRead{}
	c.reads[execID][r] = true
	return r
}

// end unregisters r and caches rows (a copy) unless a write to execID
// committed since begin, or rows is nil (the read failed).
func (c *detailCache) end(execID string, r *detailRead, rows []Result, encoded []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reads[execID], r)
	if len(c.reads[execID]) == 0 {
		delete(c.reads, execID)
	}
	if r.dirty || rows == nil || len(rows) > detailCacheRows {
		return
	}
	c.dropLocked(execID)
	for id := range c.entries { // evict arbitrary entries to stay bounded
		if c.rows+len(rows) <= detailCacheRows {
			break
		}
		c.dropLocked(id)
	}
	if c.entries == nil {
		c.entries = map[string]detailEntry{}
	}
	c.entries[execID] = detailEntry{rows: append([]Result(nil), rows...), encoded: encoded}
	c.rows += len(rows)
}

func (c *detailCache) dropLocked(execID string) {
	c.rows -= len(c.entries[execID].rows)
	delete(c.entries, execID)
}

// invalidate forgets execIDs and spoils reads of them in flight; called
// after the commit that changed them.
func (c *detailCache) invalidate(execIDs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range execIDs {
		c.dropLocked(id)
		for r := range c.reads[id] {
			r.dirty = true
		}
	}
}

// invalidateAll is invalidate for every execution (Reset).
func (c *detailCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.rows = nil, 0
	for _, rs := range c.reads {
		for r := range rs {
			r.dirty = true
		}
	}
}
