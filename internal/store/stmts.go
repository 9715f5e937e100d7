package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Hot-path statements are prepared once on the writer connection and
// bound to each transaction with Tx.StmtContext: parsing them per batch
// cost as much as executing them.
const (
	sqlFillTimeout = `UPDATE execution_results SET timeout_secs = ? WHERE result_id = ? AND timeout_secs IS NULL`
)

// multiInsert is an INSERT whose VALUES list is repeated for several rows.
type multiInsert struct {
	head string // INSERT INTO t(cols) VALUES
	cols int
	tail string // after the VALUES list (ON CONFLICT ...)
}

var (
	resultInsert = multiInsert{head: `INSERT INTO execution_results
		(result_id, request_id, exec_id, job_id, version, pc_id, status, exit_code, skip_reason,
		 timed_out, killed, stdout, stderr, stdout_truncated, stderr_truncated, started_at, finished_at, recorded_at)
		VALUES `, cols: 18}
	// resultFinish overwrites running or lost rows with their results
	// (timeout_secs, which only a started event carries, is kept). Apply
	// only sends it rows it has read as running or lost in the same
	// transaction; in a fan-out that is nearly every result.
	resultFinish = multiInsert{head: resultInsert.head, cols: 18, tail: `
		ON CONFLICT(result_id) DO UPDATE SET request_id=excluded.request_id, exec_id=excluded.exec_id,
		job_id=excluded.job_id, version=excluded.version, pc_id=excluded.pc_id, status=excluded.status,
		exit_code=excluded.exit_code, skip_reason=excluded.skip_reason, timed_out=excluded.timed_out,
		killed=excluded.killed, stdout=excluded.stdout, stderr=excluded.stderr,
		stdout_truncated=excluded.stdout_truncated, stderr_truncated=excluded.stderr_truncated,
		started_at=excluded.started_at, finished_at=excluded.finished_at, recorded_at=excluded.recorded_at,
		lost_after=NULL`}
	startedInsert = multiInsert{head: `INSERT INTO execution_results
		(result_id, request_id, exec_id, job_id, pc_id, status, started_at, recorded_at, timeout_secs, lost_after)
		VALUES `, cols: 9}
)

// rowsPerInsert are the VALUES-list lengths used, largest first; a batch
// is cut greedily into them, so only these few statements are ever
// prepared and each stays far below SQLite's bound-variable limit.
var rowsPerInsert = []int{64, 16, 4, 1}

func (m multiInsert) sql(rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", m.cols), ",") + ")"
	if m.head == startedInsert.head {
		// status is the literal 'running' between pc_id and started_at.
		one = "(?,?,?,?,?,'running',?,?,?,?)"
	}
	return m.head + strings.TrimSuffix(strings.Repeat(one+",", rows), ",") + m.tail
}

// stmtCache holds statements prepared on the writer connection at Open.
// They cannot be prepared lazily: inside a transaction the writer's only
// connection is taken, and preparing on the pool would wait for it forever.
type stmtCache struct {
	m map[string]*sql.Stmt // read-only after Open
}

// hotStatements lists every statement prepare caches.
func hotStatements() []string {
	out := []string{sqlFillTimeout}
	for _, n := range rowsPerInsert {
		out = append(out, resultInsert.sql(n), resultFinish.sql(n), startedInsert.sql(n), heartbeatUpsert.sql(n))
	}
	return out
}

func (c *stmtCache) prepare(ctx context.Context, db *sql.DB) error {
	c.m = map[string]*sql.Stmt{}
	for _, q := range hotStatements() {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return fmt.Errorf("prepare statement: %w", err)
		}
		c.m[q] = st
	}
	return nil
}

func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// stmt returns q bound to tx, from the cache when it is there.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	if st := s.stmts.m[q]; st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare statement: %w", err)
	}
	return st, nil
}

// exec runs a cached statement in tx.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) error {
	st, err := s.stmt(ctx, tx, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// insertRows writes rows with as few multi-row INSERTs as rowsPerInsert
// allows.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, m multiInsert, rows [][]any) error {
	for len(rows) > 0 {
		n := chunkSize(len(rows))
		args := make([]any, 0, n*m.cols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		st, err := s.stmt(ctx, tx, m.sql(n))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func chunkSize(left int) int {
	for _, n := range rowsPerInsert {
		if left >= n {
			return n
		}
	}
	return 1
}
