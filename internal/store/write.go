package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/kanade-dev/kanade/internal/wire"
)

// ExecPayload is the payload of the `exec` audit event. The server writes
// the executions row directly (InsertExecution) and also publishes this, so
// a reprojection rebuilds executions and their target PCs from AUDIT.
type ExecPayload struct {
	Execution
	TargetPCs []string `json:"target_pcs"`
}

// AuditActionExec is the audit action whose payload is an ExecPayload.
const AuditActionExec = "exec"

// InsertExecution records a new exec and the PCs its target resolved to.
// It is idempotent on exec_id. Results that arrived before it (the server
// publishes before inserting) are counted now, exactly once.
func (s *Store) InsertExecution(ctx context.Context, e Execution, targets []string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return insertExecution(ctx, tx, e, targets)
	})
	if err == nil {
		s.details.invalidate(e.ExecID)
	}
	return err
}

func insertExecution(ctx context.Context, tx *sql.Tx, e Execution, targets []string) error {
	subjects, err := json.Marshal(nonNil(e.Subjects))
	if err != nil {
		return fmt.Errorf("insert execution %s: %w", e.ExecID, err)
	}
	var target any
	if len(e.Target) > 0 {
		target = string(e.Target)
	}
	res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO executions
		(exec_id, job_id, version, initiated_by, initiated_at, target, subjects, target_count, status, deadline_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
		e.ExecID, e.JobID, e.Version, e.InitiatedBy, ts(e.InitiatedAt), target, string(subjects),
		e.TargetCount, tsPtr(e.DeadlineAt))
	if err != nil {
		return fmt.Errorf("insert execution %s: %w", e.ExecID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already known: idempotent
	}
	if err := insertTargets(ctx, tx, e.ExecID, targets); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE executions SET
		(running, succeeded, failed, skipped, lost) = (SELECT
			coalesce(sum(status='running'),0), coalesce(sum(status='success'),0),
			coalesce(sum(status='failure'),0), coalesce(sum(status='skipped'),0),
			coalesce(sum(status='lost'),0)
			FROM execution_results WHERE exec_id = ?1)
		WHERE exec_id = ?1`, e.ExecID); err != nil {
		return fmt.Errorf("count early results of %s: %w", e.ExecID, err)
	}
	return refreshStatus(ctx, tx, e.ExecID)
}

// insertTargets writes every target row with one statement: a row per
// PC through a prepared statement cost ~10 000 round trips into SQLite
// for an exec to a 10 000-PC fleet, which the API caller waited for.
func insertTargets(ctx context.Context, tx *sql.Tx, execID string, targets []string) error {
	if len(targets) == 0 {
		return nil
	}
	js, err := json.Marshal(targets)
	if err != nil {
		return fmt.Errorf("insert targets of %s: %w", execID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO execution_targets(exec_id, pc_id)
		SELECT ?, value FROM json_each(?)`, execID, string(js)); err != nil {
		return fmt.Errorf("insert targets of %s: %w", execID, err)
	}
	return nil
}

// refreshStatus derives an execution's status from its counters. A
// completed execution never changes status again; finished_at is the
// recorded_at of the newest result, so a replay reproduces it.
func refreshStatus(ctx context.Context, tx *sql.Tx, execID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE executions SET
		status = CASE
			WHEN target_count = 0 OR succeeded+failed+skipped+lost >= target_count THEN 'completed'
			WHEN running+succeeded+failed+skipped+lost > 0 THEN 'running'
			ELSE status END,
		finished_at = CASE
			WHEN target_count = 0 OR succeeded+failed+skipped+lost >= target_count THEN coalesce(finished_at,
				(SELECT max(recorded_at) FROM execution_results r WHERE r.exec_id = executions.exec_id),
				initiated_at)
			ELSE finished_at END
		WHERE exec_id = ? AND status <> 'completed'`, execID)
	if err != nil {
		return fmt.Errorf("refresh status of %s: %w", execID, err)
	}
	return nil
}

// heartbeatUpsert applies a micro-batch with multi-row statements
// prepared once (64 rows each) instead of one execution per PC. The WHERE
// keeps the newest heartbeat: an older one never overwrites, also when
// one statement names a PC twice. (A json_each variant re-parsed each
// row's object once per column and cost more than it saved.)
var heartbeatUpsert = multiInsert{head: `INSERT INTO agents
	(pc_id, hostname, os, arch, agent_version, boot_time, rss_bytes, cpu_pct, first_seen, last_heartbeat)
	VALUES `, cols: 10, tail: `
	ON CONFLICT(pc_id) DO UPDATE SET hostname=excluded.hostname, os=excluded.os,
		arch=excluded.arch, agent_version=excluded.agent_version, boot_time=excluded.boot_time,
		rss_bytes=excluded.rss_bytes, cpu_pct=excluded.cpu_pct, last_heartbeat=excluded.last_heartbeat
	WHERE excluded.last_heartbeat > agents.last_heartbeat`}

// UpsertHeartbeats writes a micro-batch in one transaction. A heartbeat
// older than the stored one is ignored, so out-of-order delivery is safe.
func (s *Store) UpsertHeartbeats(ctx context.Context, hbs []wire.Heartbeat) error {
	if len(hbs) == 0 {
		return nil
	}
	rows := make([][]any, len(hbs))
	for i, h := range hbs {
		boot := ""
		if !h.BootTime.IsZero() {
			boot = ts(h.BootTime)
		}
		at := ts(h.At)
		rows[i] = []any{h.PCID, h.Hostname, h.OS, h.Arch, h.AgentVersion, boot,
			int64(h.AgentRSSBytes), h.AgentCPUPct, at, at}
	}
	return s.agentsWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertRows(ctx, tx, heartbeatUpsert, rows); err != nil {
			return fmt.Errorf("upsert heartbeats: %w", err)
		}
		return nil
	})
}

// SetAgentGroups replaces pc's groups (the KV agent_groups mirror).
func (s *Store) SetAgentGroups(ctx context.Context, pc string, groups []string) error {
	return s.agentsWriteTx(ctx, func(tx *sql.Tx) error { return setGroups(ctx, tx, pc, groups) })
}

// DeleteAgentGroups removes pc from every group.
func (s *Store) DeleteAgentGroups(ctx context.Context, pc string) error {
	return s.agentsWriteTx(ctx, func(tx *sql.Tx) error { return setGroups(ctx, tx, pc, nil) })
}

// ReplaceAgentGroups replaces the whole mirror in one transaction; the
// projector calls it after the KV watch's initial values, so keys deleted
// while the server was down disappear too.
func (s *Store) ReplaceAgentGroups(ctx context.Context, all map[string][]string) error {
	return s.agentsWriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM agent_groups`); err != nil {
			return fmt.Errorf("replace agent groups: %w", err)
		}
		for pc, groups := range all {
			if err := setGroups(ctx, tx, pc, groups); err != nil {
				return err
			}
		}
		return nil
	})
}

func setGroups(ctx context.Context, tx *sql.Tx, pc string, groups []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM agent_groups WHERE pc_id = ?`, pc); err != nil {
		return fmt.Errorf("set groups of %s: %w", pc, err)
	}
	for _, g := range groups {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO agent_groups(pc_id, grp) VALUES (?, ?)`, pc, g); err != nil {
			return fmt.Errorf("set groups of %s: %w", pc, err)
		}
	}
	return nil
}

// DeleteAgent forgets an agent and its inventory (ErrNotFound if unknown).
// Its group membership lives in KV and is removed there by the caller.
func (s *Store) DeleteAgent(ctx context.Context, pc string) error {
	return s.agentsWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM agents WHERE pc_id = ?`, pc)
		if err != nil {
			return fmt.Errorf("delete agent %s: %w", pc, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM inventory WHERE pc_id = ?`, pc); err != nil {
			return fmt.Errorf("delete inventory of %s: %w", pc, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// InsertTick appends to the decision log and keeps the newest keep rows of
// that schedule (keep <= 0 keeps everything).
func (s *Store) InsertTick(ctx context.Context, t Tick, keep int) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schedule_ticks
			(schedule_id, tick_at, action, reason, expected, armed, suppressed, fired, exec_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ScheduleID, ts(t.TickAt), t.Action, t.Reason,
			t.Expected, t.Armed, t.Suppressed, t.Fired, t.ExecID); err != nil {
			return fmt.Errorf("insert tick of %s: %w", t.ScheduleID, err)
		}
		if keep <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schedule_ticks WHERE schedule_id = ?1 AND id <=
			(SELECT id FROM schedule_ticks WHERE schedule_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
			t.ScheduleID, keep); err != nil {
			return fmt.Errorf("trim ticks of %s: %w", t.ScheduleID, err)
		}
		return nil
	})
}

func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sortedKeys returns m's keys in order so batches touch rows in a stable
// order (deterministic and deadlock-free).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
