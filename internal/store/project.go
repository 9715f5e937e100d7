package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kanade-dev/kanade/internal/wire"
)

// StartedMsg is a started event with its stream metadata.
type StartedMsg struct {
	wire.Started
	RecordedAt time.Time // JetStream timestamp
	// LostAfter is when the reaper may declare the run lost:
	// started_at + timeout + max(2 min, timeout/2).
	LostAfter time.Time
}

// ResultMsg is a result with its JetStream timestamp.
type ResultMsg struct {
	wire.ExecResult
	RecordedAt time.Time
}

// InventoryMsg is an inventory report with its JetStream timestamp.
type InventoryMsg struct {
	wire.Inventory
	RecordedAt time.Time
}

// Batch is what a projector applies in one transaction. Each slice keeps
// stream order.
type Batch struct {
	Started     []StartedMsg
	Results     []ResultMsg
	Audit       []AuditEntry
	Inventory   []InventoryMsg
	DeadLetters []DeadLetter
}

// Len is the number of messages in the batch.
func (b *Batch) Len() int {
	return len(b.Started) + len(b.Results) + len(b.Audit) + len(b.Inventory) + len(b.DeadLetters)
}

// ResultStatus derives a stored status from a result (success as
// wire.ExecResult.Succeeded defines it).
func ResultStatus(r *wire.ExecResult) string {
	switch {
	case r.Succeeded():
		return ResultSuccess
	case r.Skipped:
		return ResultSkipped
	default:
		return ResultFailure
	}
}

// counters are per-execution deltas accumulated over a batch and applied
// with one UPDATE per execution.
type counters struct{ running, succeeded, failed, skipped, lost int }

func (c *counters) add(status string, n int) {
	switch status {
	case ResultRunning:
		c.running += n
	case ResultSuccess:
		c.succeeded += n
	case ResultFailure:
		c.failed += n
	case ResultSkipped:
		c.skipped += n
	case ResultLost:
		c.lost += n
	}
}

type deltas map[string]*counters

func (d deltas) add(execID, status string, n int) {
	c := d[execID]
	if c == nil {
		c = &counters{}
		d[execID] = c
	}
	c.add(status, n)
}

// Apply projects a batch in one transaction and returns the executions it
// changed (for live notifications). Redelivered messages change nothing.
func (s *Store) Apply(ctx context.Context, b *Batch) ([]string, error) {
	var touched []string
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		d := deltas{}
		if err := applyStarted(ctx, s, tx, b.Started, d); err != nil {
			return err
		}
		if err := applyResults(ctx, s, tx, b.Results, d); err != nil {
			return err
		}
		execs, err := applyAudit(ctx, tx, b.Audit)
		if err != nil {
			return err
		}
		if err := applyInventory(ctx, tx, b.Inventory); err != nil {
			return err
		}
		if err := applyDeadLetters(ctx, tx, b.DeadLetters); err != nil {
			return err
		}
		if err := applyDeltas(ctx, tx, d); err != nil {
			return err
		}
		touched = append(sortedKeys(d), execs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.details.invalidate(touched...)
	return touched, nil
}

// rowState is what a batch needs to know of an existing result row.
type rowState struct{ status, execID string }

// currentStatuses returns the stored state of the n result rows id names
// in one indexed query, instead of one lookup per message.
func currentStatuses(ctx context.Context, tx *sql.Tx, n int, id func(int) string) (map[string]rowState, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = id(i)
	}
	js, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("encode result ids: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT result_id, status, exec_id FROM execution_results
		WHERE result_id IN (SELECT value FROM json_each(?))`, string(js))
	if err != nil {
		return nil, fmt.Errorf("read result statuses: %w", err)
	}
	defer rows.Close()
	out := make(map[string]rowState, len(ids))
	for rows.Next() {
		var id string
		var st rowState
		if err := rows.Scan(&id, &st.status, &st.execID); err != nil {
			return nil, fmt.Errorf("read result statuses: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read result statuses: %w", err)
	}
	return out, nil
}

func applyStarted(ctx context.Context, s *Store, tx *sql.Tx, msgs []StartedMsg, d deltas) error {
	if len(msgs) == 0 {
		return nil
	}
	cur, err := currentStatuses(ctx, tx, len(msgs), func(i int) string { return msgs[i].ResultID })
	if err != nil {
		return err
	}
	var fresh [][]any
	for _, m := range msgs {
		timeout := sql.NullInt64{Int64: m.TimeoutSecs, Valid: m.TimeoutSecs > 0}
		if cur[m.ResultID].status != "" {
			// Duplicate, or the result got here first: never revert it. A
			// late started event only contributes what the result lacks,
			// so the row is the same whichever stream a replay reads first.
			if timeout.Valid {
				if err := s.exec(ctx, tx, sqlFillTimeout, timeout, m.ResultID); err != nil {
					return fmt.Errorf("project started %s: %w", m.ResultID, err)
				}
			}
			continue
		}
		cur[m.ResultID] = rowState{ResultRunning, m.ExecID}
		fresh = append(fresh, []any{m.ResultID, m.RequestID, m.ExecID, m.JobID, m.PCID,
			ts(m.StartedAt), ts(m.RecordedAt), timeout, ts(m.LostAfter)})
		d.add(m.ExecID, ResultRunning, 1)
	}
	if err := s.insertRows(ctx, tx, startedInsert, fresh); err != nil {
		return fmt.Errorf("project started events: %w", err)
	}
	return nil
}

// applyResults finishes (or creates) rows. Only a missing, running or lost
// row may be finished, so each result_id moves the counters exactly once;
// a lost row overwritten by its real result moves lost back. Statuses are
// read for the whole batch at once; new rows go in with multi-row
// INSERTs and finished running rows with multi-row upserts.
func applyResults(ctx context.Context, s *Store, tx *sql.Tx, msgs []ResultMsg, d deltas) error {
	if len(msgs) == 0 {
		return nil
	}
	cur, err := currentStatuses(ctx, tx, len(msgs), func(i int) string { return msgs[i].ResultID })
	if err != nil {
		return err
	}
	var fresh, finish [][]any
	for i := range msgs {
		m := &msgs[i]
		prev := cur[m.ResultID]
		was := prev.status
		if was != "" && was != ResultRunning && was != ResultLost {
			continue // already finished: redelivery, replay, or a duplicate in this batch
		}
		r := &m.ExecResult
		status := ResultStatus(r)
		cur[m.ResultID] = rowState{status, r.ExecID}
		args := resultArgs(m, status)
		if was == "" {
			fresh = append(fresh, args)
		} else {
			finish = append(finish, args)
			// The running/lost row was counted on the execution it was
			// stored under; normally the same one.
			d.add(prev.execID, was, -1)
		}
		d.add(r.ExecID, status, 1)
	}
	if err := s.insertRows(ctx, tx, resultInsert, fresh); err != nil {
		return fmt.Errorf("project results: %w", err)
	}
	if err := s.insertRows(ctx, tx, resultFinish, finish); err != nil {
		return fmt.Errorf("project results over started rows: %w", err)
	}
	return nil
}

func resultArgs(m *ResultMsg, status string) []any {
	r := &m.ExecResult
	return []any{r.ResultID, r.RequestID, r.ExecID, r.JobID, r.Version, r.PCID, status, r.ExitCode,
		r.SkipReason, r.TimedOut, r.Killed, r.Stdout, r.Stderr, r.StdoutTruncated, r.StderrTruncated,
		tsPtr(&r.StartedAt), tsPtr(&r.FinishedAt), ts(m.RecordedAt)}
}

func applyDeltas(ctx context.Context, tx *sql.Tx, d deltas) error {
	if len(d) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `UPDATE executions SET running = running + ?, succeeded = succeeded + ?,
		failed = failed + ?, skipped = skipped + ?, lost = lost + ? WHERE exec_id = ?`)
	if err != nil {
		return fmt.Errorf("prepare counters: %w", err)
	}
	defer st.Close()
	for _, id := range sortedKeys(d) {
		c := d[id]
		// An execution not inserted yet is counted by InsertExecution.
		if _, err := st.ExecContext(ctx, c.running, c.succeeded, c.failed, c.skipped, c.lost, id); err != nil {
			return fmt.Errorf("bump counters of %s: %w", id, err)
		}
		if err := refreshStatus(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

func applyAudit(ctx context.Context, tx *sql.Tx, entries []AuditEntry) ([]string, error) {
	var execs []string
	for _, e := range entries {
		var payload any
		if len(e.Payload) > 0 {
			payload = string(e.Payload)
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO audit_log
			(seq, actor, action, target, payload, occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			int64(e.Seq), e.Actor, e.Action, e.Target, payload, ts(e.OccurredAt), ts(e.RecordedAt))
		if err != nil {
			return nil, fmt.Errorf("project audit %d: %w", e.Seq, err)
		}
		if n, _ := res.RowsAffected(); n == 0 || e.Action != AuditActionExec {
			continue
		}
		id, err := projectExecAudit(ctx, tx, e)
		if err != nil {
			return nil, err
		}
		if id != "" {
			execs = append(execs, id)
		}
	}
	return execs, nil
}

// projectExecAudit rebuilds an executions row from its audit event. A
// payload that is not an ExecPayload is kept in audit_log only.
func projectExecAudit(ctx context.Context, tx *sql.Tx, e AuditEntry) (string, error) {
	var p ExecPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil || p.ExecID == "" || p.InitiatedAt.IsZero() {
		return "", nil
	}
	if err := insertExecution(ctx, tx, p.Execution, p.TargetPCs); err != nil {
		return "", fmt.Errorf("project audit %d: %w", e.Seq, err)
	}
	return p.ExecID, nil
}

func applyInventory(ctx context.Context, tx *sql.Tx, msgs []InventoryMsg) error {
	for _, m := range msgs {
		facts, err := json.Marshal(m.Facts)
		if err != nil {
			return fmt.Errorf("project inventory %s: %w", m.PCID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory(pc_id, collected_at, facts, recorded_at)
			VALUES (?, ?, ?, ?) ON CONFLICT(pc_id) DO UPDATE SET collected_at=excluded.collected_at,
			facts=excluded.facts, recorded_at=excluded.recorded_at
			WHERE excluded.collected_at > inventory.collected_at`,
			m.PCID, ts(m.CollectedAt), string(facts), ts(m.RecordedAt)); err != nil {
			return fmt.Errorf("project inventory %s: %w", m.PCID, err)
		}
	}
	return nil
}

func applyDeadLetters(ctx context.Context, tx *sql.Tx, dls []DeadLetter) error {
	for _, dl := range dls {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dead_letters
			(stream, seq, subject, error, data, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`,
			dl.Stream, int64(dl.Seq), dl.Subject, dl.Error, dl.Data, ts(dl.RecordedAt)); err != nil {
			return fmt.Errorf("record dead letter %s/%d: %w", dl.Stream, dl.Seq, err)
		}
	}
	return nil
}

// ReapLost marks running rows past their lost_after as lost (exit −1,
// finished_at = lost_after so a replay reproduces it) and returns the
// executions changed.
func (s *Store) ReapLost(ctx context.Context, now time.Time) ([]string, error) {
	var touched []string
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE execution_results SET status='lost', exit_code=-1,
			finished_at=lost_after WHERE status='running' AND lost_after < ? RETURNING exec_id`, ts(now))
		if err != nil {
			return fmt.Errorf("reap lost: %w", err)
		}
		d := deltas{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("reap lost: %w", err)
			}
			d.add(id, ResultRunning, -1)
			d.add(id, ResultLost, 1)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("reap lost: %w", err)
		}
		touched = sortedKeys(d)
		return applyDeltas(ctx, tx, d)
	})
	if err != nil {
		return nil, err
	}
	s.details.invalidate(touched...)
	return touched, nil
}

// DeadlineGrace is how long after deadline_at an execution with no answer
// at all becomes expired: agents that got the command late report skipped
// results, which need time to travel.
const DeadlineGrace = 2 * time.Minute

// ExpireExecutions marks pending executions (nothing arrived) expired once
// deadline_at + DeadlineGrace passed, or, without a deadline, once
// initiated_at + noDeadline passed. A result arriving later still moves the
// execution to running/completed. finished_at stays empty for expired rows.
func (s *Store) ExpireExecutions(ctx context.Context, now time.Time, noDeadline time.Duration) ([]string, error) {
	var ids []string
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE executions SET status='expired'
			WHERE status='pending' AND target_count > 0 AND (
				(deadline_at IS NOT NULL AND deadline_at < ?) OR
				(deadline_at IS NULL AND initiated_at < ?))
			RETURNING exec_id`, ts(now.Add(-DeadlineGrace)), ts(now.Add(-noDeadline)))
		if err != nil {
			return fmt.Errorf("expire executions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("expire executions: %w", err)
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	s.details.invalidate(ids...)
	return ids, nil
}
