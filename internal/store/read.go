package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Paging defaults shared by every list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// ClipBytes is how much stdout/stderr a list shows; GetResult is full.
	ClipBytes = 1024
)

func pageBounds(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	if offset < 0 {
		offset = 0
	}
	return limit, offset
}

// where accumulates filter clauses and their arguments.
type where struct {
	clauses []string
	args    []any
}

func (w *where) add(clause string, args ...any) {
	w.clauses = append(w.clauses, clause)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.clauses) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.clauses, " AND ")
}

// count runs SELECT count(*) FROM <from><where>.
func (s *Store) count(ctx context.Context, from string, w *where) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM "+from+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", from, err)
	}
	return n, nil
}

// ---- agents ----

// AgentFilter selects agents for GET /api/agents.
type AgentFilter struct {
	Q      string // substring of pc_id/hostname, or a regex when it looks like one
	Group  string
	Status string // online | offline | ""
	OS     string
	Sort   string // pc_id (default), hostname, os, agent_version, last_heartbeat, first_seen; "-" prefix = descending
	Limit  int
	Offset int
}

var agentSorts = map[string]string{
	"pc_id": "a.pc_id", "hostname": "a.hostname", "os": "a.os", "agent_version": "a.agent_version",
	"last_heartbeat": "a.last_heartbeat", "first_seen": "a.first_seen",
}

// regexMeta are characters that never occur in a pc id and rarely in a
// host name; their presence makes q a regular expression. '.' is left out
// so "web01.example" stays a substring search.
const regexMeta = `^$*+?()[]{}|\`

// LooksLikeRegex reports whether ListAgents treats q as a regex.
func LooksLikeRegex(q string) bool { return strings.ContainsAny(q, regexMeta) }

const agentCols = `a.pc_id, a.hostname, a.os, a.arch, a.agent_version, a.boot_time, a.rss_bytes,
	a.cpu_pct, a.first_seen, a.last_heartbeat`

func agentWhere(f AgentFilter, now time.Time) (*where, error) {
	w := &where{}
	if f.Q != "" {
		if LooksLikeRegex(f.Q) {
			if _, err := regexp.Compile(f.Q); err != nil {
				return nil, &FilterError{Field: "q", Value: f.Q, Msg: "invalid regular expression: " + err.Error()}
			}
			w.add("(kanade_regexp(?, a.pc_id) OR kanade_regexp(?, a.hostname))", f.Q, f.Q)
		} else {
			like := "%" + escapeLike(f.Q) + "%"
			w.add(`(a.pc_id LIKE ? ESCAPE '\' OR a.hostname LIKE ? ESCAPE '\')`, like, like)
		}
	}
	if f.Group != "" {
		w.add("EXISTS (SELECT 1 FROM agent_groups g WHERE g.pc_id = a.pc_id AND g.grp = ?)", f.Group)
	}
	cutoff := ts(now.Add(-OnlineWindow))
	switch f.Status {
	case "":
	case "online":
		w.add("a.last_heartbeat >= ?", cutoff)
	case "offline":
		w.add("a.last_heartbeat < ?", cutoff)
	default:
		return nil, &FilterError{Field: "status", Value: f.Status, Msg: "want online or offline"}
	}
	if f.OS != "" {
		w.add("a.os = ?", f.OS)
	}
	return w, nil
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

func agentOrder(sortKey string) (string, error) {
	key, desc := strings.CutPrefix(sortKey, "-")
	if key == "" {
		key = "pc_id"
	}
	col, ok := agentSorts[key]
	if !ok {
		return "", &FilterError{Field: "sort", Value: sortKey, Msg: "unknown sort key"}
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	if col == "a.pc_id" {
		return col + dir, nil
	}
	return col + dir + ", a.pc_id" + dir, nil
}

// ListAgents pages through agents; now decides who is online.
func (s *Store) ListAgents(ctx context.Context, f AgentFilter, now time.Time) (Page[Agent], error) {
	limit, offset := pageBounds(f.Limit, f.Offset)
	f.Limit, f.Offset = limit, offset
	gen := s.agents.gen.Load() // before reading: see agentPages
	if cacheable(f) {
		if e, ok := s.agents.get(gen, f, now); ok {
			return e.page, nil
		}
	}
	page, err := s.listAgents(ctx, f, now)
	if err == nil && cacheable(f) {
		s.agents.put(gen, f, now, page)
	}
	return page, err
}

func (s *Store) listAgents(ctx context.Context, f AgentFilter, now time.Time) (Page[Agent], error) {
	limit, offset := f.Limit, f.Offset
	page := Page[Agent]{Items: []Agent{}, Limit: limit, Offset: offset}
	w, err := agentWhere(f, now)
	if err != nil {
		return page, err
	}
	order, err := agentOrder(f.Sort)
	if err != nil {
		return page, err
	}
	if page.Total, err = s.count(ctx, "agents a", w); err != nil {
		return page, err
	}
	q := "SELECT " + agentCols + " FROM agents a" + w.sql() + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	page.Items, err = s.queryAgents(ctx, now, q, append(w.args, limit, offset)...)
	return page, err
}

// GetAgent returns one agent with its groups, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, pc string, now time.Time) (Agent, error) {
	items, err := s.queryAgents(ctx, now, "SELECT "+agentCols+" FROM agents a WHERE a.pc_id = ?", pc)
	if err != nil {
		return Agent{}, err
	}
	if len(items) == 0 {
		return Agent{}, ErrNotFound
	}
	return items[0], nil
}

func (s *Store) queryAgents(ctx context.Context, now time.Time, q string, args ...any) ([]Agent, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	items := []Agent{}
	cutoff := now.Add(-OnlineWindow)
	for rows.Next() {
		var a Agent
		var boot, first, last string
		var rss int64
		if err := rows.Scan(&a.PCID, &a.Hostname, &a.OS, &a.Arch, &a.AgentVersion, &boot, &rss,
			&a.CPUPct, &first, &last); err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		a.RSSBytes = uint64(rss)
		a.BootTime, a.FirstSeen, a.LastHeartbeat = parseTS(boot), parseTS(first), parseTS(last)
		a.Online = !a.LastHeartbeat.Before(cutoff)
		a.Groups = []string{}
		items = append(items, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return items, s.attachGroups(ctx, items)
}

// attachGroups loads the groups of a page of agents in one query.
func (s *Store) attachGroups(ctx context.Context, items []Agent) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	idx := make(map[string]int, len(items))
	for i, a := range items {
		ids[i] = a.PCID
		idx[a.PCID] = i
	}
	js, _ := json.Marshal(ids)
	rows, err := s.r.QueryContext(ctx, `SELECT g.pc_id, g.grp FROM json_each(?) j
		JOIN agent_groups g ON g.pc_id = j.value ORDER BY g.pc_id, g.grp`, string(js))
	if err != nil {
		return fmt.Errorf("load agent groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pc, g string
		if err := rows.Scan(&pc, &g); err != nil {
			return fmt.Errorf("load agent groups: %w", err)
		}
		items[idx[pc]].Groups = append(items[idx[pc]].Groups, g)
	}
	return rows.Err()
}

// Group is one group and its members (GET /api/groups).
type Group struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// ListGroups returns every group with its members, by name.
func (s *Store) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT grp, pc_id FROM agent_groups ORDER BY grp, pc_id`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	groups := []Group{}
	for rows.Next() {
		var g, pc string
		if err := rows.Scan(&g, &pc); err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		if n := len(groups); n == 0 || groups[n-1].Name != g {
			groups = append(groups, Group{Name: g})
		}
		last := &groups[len(groups)-1]
		last.Members = append(last.Members, pc)
	}
	return groups, rows.Err()
}

// ---- targeting (scheduler and exec fan-out) ----

// OnlinePCs returns the online agents of a target: every online agent when
// all, else the online members of any of groups. Sorted, de-duplicated.
func (s *Store) OnlinePCs(ctx context.Context, now time.Time, all bool, groups []string) ([]string, error) {
	cutoff := ts(now.Add(-OnlineWindow))
	if all {
		return s.strings(ctx, `SELECT pc_id FROM agents WHERE last_heartbeat >= ? ORDER BY pc_id`, cutoff)
	}
	if len(groups) == 0 {
		return []string{}, nil
	}
	js, _ := json.Marshal(groups)
	return s.strings(ctx, `SELECT DISTINCT g.pc_id FROM agent_groups g JOIN agents a ON a.pc_id = g.pc_id
		WHERE g.grp IN (SELECT value FROM json_each(?)) AND a.last_heartbeat >= ? ORDER BY g.pc_id`,
		string(js), cutoff)
}

// TargetPCs returns, in one scan, a target's online members and its
// roster including offline ones: every known agent when all, else every
// member of any of groups (even one that never sent a heartbeat). Both
// lists are sorted.
func (s *Store) TargetPCs(ctx context.Context, now time.Time, all bool, groups []string) (online, roster []string, err error) {
	cutoff := ts(now.Add(-OnlineWindow))
	q, args := `SELECT pc_id, last_heartbeat >= ? FROM agents ORDER BY pc_id`, []any{cutoff}
	if !all {
		if len(groups) == 0 {
			return []string{}, []string{}, nil
		}
		js, _ := json.Marshal(groups)
		q = `SELECT DISTINCT g.pc_id, coalesce(a.last_heartbeat >= ?, 0) FROM agent_groups g
			LEFT JOIN agents a ON a.pc_id = g.pc_id
			WHERE g.grp IN (SELECT value FROM json_each(?)) ORDER BY g.pc_id`
		args = append(args, string(js))
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("query target: %w", err)
	}
	defer rows.Close()
	online, roster = []string{}, []string{}
	for rows.Next() {
		var pc string
		var alive bool
		if err := rows.Scan(&pc, &alive); err != nil {
			return nil, nil, fmt.Errorf("query target: %w", err)
		}
		roster = append(roster, pc)
		if alive {
			online = append(online, pc)
		}
	}
	return online, roster, rows.Err()
}

// Completion is a PC's latest successful finish of a job.
type Completion struct {
	PC string
	At time.Time
}

// Completions returns, per PC, the latest finished_at of a successful
// result of jobID, in one query; pcs restricts the PCs (nil = all).
func (s *Store) Completions(ctx context.Context, jobID string, pcs []string) ([]Completion, error) {
	q := `SELECT pc_id, max(finished_at) FROM execution_results
		WHERE job_id = ? AND status = 'success' AND finished_at IS NOT NULL`
	args := []any{jobID}
	if pcs != nil {
		js, _ := json.Marshal(pcs)
		q += ` AND pc_id IN (SELECT value FROM json_each(?))`
		args = append(args, string(js))
	}
	rows, err := s.r.QueryContext(ctx, q+` GROUP BY pc_id ORDER BY pc_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("completions of %s: %w", jobID, err)
	}
	defer rows.Close()
	out := []Completion{}
	for rows.Next() {
		var c Completion
		var at string
		if err := rows.Scan(&c.PC, &at); err != nil {
			return nil, fmt.Errorf("completions of %s: %w", jobID, err)
		}
		c.At = parseTS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query ids: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("query ids: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- health ----

// Health is the fleet rollup of GET /api/health.
type Health struct {
	Known      int            `json:"known"`
	Online     int            `json:"online"`
	Offline    int            `json:"offline"`
	Results24h map[string]int `json:"results_24h"`
	// DeadLetters counts undecodable messages ever recorded.
	DeadLetters int `json:"dead_letters"`
}

// HealthCounts computes the rollup at now.
func (s *Store) HealthCounts(ctx context.Context, now time.Time) (Health, error) {
	h := Health{Results24h: map[string]int{}}
	err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(last_heartbeat >= ?), 0) FROM agents`,
		ts(now.Add(-OnlineWindow))).Scan(&h.Known, &h.Online)
	if err != nil {
		return h, fmt.Errorf("health agents: %w", err)
	}
	h.Offline = h.Known - h.Online
	for _, st := range []string{ResultRunning, ResultSuccess, ResultFailure, ResultSkipped, ResultLost} {
		h.Results24h[st] = 0
	}
	rows, err := s.r.QueryContext(ctx, `SELECT status, count(*) FROM execution_results
		WHERE recorded_at >= ? GROUP BY status`, ts(now.Add(-24*time.Hour)))
	if err != nil {
		return h, fmt.Errorf("health results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return h, fmt.Errorf("health results: %w", err)
		}
		h.Results24h[st] = n
	}
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("health results: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM dead_letters`).Scan(&h.DeadLetters); err != nil {
		return h, fmt.Errorf("health dead letters: %w", err)
	}
	return h, nil
}

var errNoRows = sql.ErrNoRows

func notFound(err error) error {
	if errors.Is(err, errNoRows) {
		return ErrNotFound
	}
	return err
}
