package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// ExecutionFilter selects executions, newest first.
type ExecutionFilter struct {
	JobID     string
	Status    string // pending | running | completed | expired
	Initiator string
	Since     time.Time // initiated_at >= Since
	Limit     int
	Offset    int
}

const execCols = `exec_id, job_id, version, initiated_by, initiated_at, target, subjects, target_count,
	running, succeeded, failed, skipped, lost, status, deadline_at, finished_at`

// ListExecutions pages through executions, newest first.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) (Page[Execution], error) {
	limit, offset := pageBounds(f.Limit, f.Offset)
	page := Page[Execution]{Items: []Execution{}, Limit: limit, Offset: offset}
	w := &where{}
	if f.JobID != "" {
		w.add("job_id = ?", f.JobID)
	}
	switch f.Status {
	case "":
	case StatusPending, StatusRunning, StatusCompleted, StatusExpired:
		w.add("status = ?", f.Status)
	default:
		return page, &FilterError{Field: "status", Value: f.Status, Msg: "want pending, running, completed or expired"}
	}
	if f.Initiator != "" {
		w.add("initiated_by = ?", f.Initiator)
	}
	if !f.Since.IsZero() {
		w.add("initiated_at >= ?", ts(f.Since))
	}
	var err error
	if page.Total, err = s.count(ctx, "executions", w); err != nil {
		return page, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+execCols+" FROM executions"+w.sql()+
		" ORDER BY initiated_at DESC, exec_id DESC LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return page, fmt.Errorf("list executions: %w", err)
		}
		page.Items = append(page.Items, e)
	}
	return page, rows.Err()
}

// GetExecution returns one execution or ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (Execution, error) {
	e, err := scanExecution(s.r.QueryRowContext(ctx, "SELECT "+execCols+" FROM executions WHERE exec_id = ?", id))
	if err != nil {
		return e, notFound(err)
	}
	return e, nil
}

type scanner interface{ Scan(...any) error }

func scanExecution(r scanner) (Execution, error) {
	var e Execution
	var initiated, subjects string
	var target, deadline, finished sql.NullString
	if err := r.Scan(&e.ExecID, &e.JobID, &e.Version, &e.InitiatedBy, &initiated, &target, &subjects,
		&e.TargetCount, &e.Running, &e.Succeeded, &e.Failed, &e.Skipped, &e.Lost, &e.Status,
		&deadline, &finished); err != nil {
		return e, err
	}
	e.InitiatedAt = parseTS(initiated)
	if target.Valid && target.String != "" {
		e.Target = json.RawMessage(target.String)
	}
	e.Subjects = []string{}
	_ = json.Unmarshal([]byte(subjects), &e.Subjects)
	e.DeadlineAt, e.FinishedAt = parseTSPtr(deadline), parseTSPtr(finished)
	return e, nil
}

// resultCols clips output to ClipBytes characters for lists.
const resultColsClipped = `r.result_id, r.request_id, r.exec_id, r.job_id, r.version, r.pc_id, r.status,
	r.exit_code, r.skip_reason, r.timed_out, r.killed, substr(r.stdout, 1, 1024), substr(r.stderr, 1, 1024),
	r.stdout_truncated OR length(r.stdout) > 1024, r.stderr_truncated OR length(r.stderr) > 1024,
	r.started_at, r.finished_at, r.recorded_at`

const resultColsNoOutput = `r.result_id, r.request_id, r.exec_id, r.job_id, r.version, r.pc_id, r.status,
	r.exit_code, r.skip_reason, r.timed_out, r.killed, '', '', r.stdout_truncated, r.stderr_truncated,
	r.started_at, r.finished_at, r.recorded_at`

const resultColsFull = `r.result_id, r.request_id, r.exec_id, r.job_id, r.version, r.pc_id, r.status,
	r.exit_code, r.skip_reason, r.timed_out, r.killed, r.stdout, r.stderr,
	r.stdout_truncated, r.stderr_truncated, r.started_at, r.finished_at, r.recorded_at`

func scanResult(r scanner) (Result, error) {
	var x Result
	var exit sql.NullInt64
	var started, finished sql.NullString
	var recorded string
	if err := r.Scan(&x.ResultID, &x.RequestID, &x.ExecID, &x.JobID, &x.Version, &x.PCID, &x.Status,
		&exit, &x.SkipReason, &x.TimedOut, &x.Killed, &x.Stdout, &x.Stderr, &x.StdoutTruncated,
		&x.StderrTruncated, &started, &finished, &recorded); err != nil {
		return x, err
	}
	if exit.Valid {
		code := int(exit.Int64)
		x.ExitCode = &code
	}
	x.StartedAt, x.FinishedAt = parseTSPtr(started), parseTSPtr(finished)
	x.RecordedAt = parseTS(recorded)
	return x, nil
}

// ExecutionResults returns one row per target PC of an execution — its
// result, or a synthetic ResultPending row when it has not answered — plus
// results of PCs outside the target, ordered by pc_id. Rows carry no
// stdout/stderr (the truncated flags are set): at 10 000 PCs the output is
// most of the cost, and the detail view loads one PC's output on demand
// with GetResult. Two index range scans merged in Go beat a per-target
// join.
func (s *Store) ExecutionResults(ctx context.Context, id string) ([]Result, error) {
	if rows, ok := s.details.get(id); ok {
		return rows, nil
	}
	r := s.details.begin(id)
	_, err := s.GetExecution(ctx, id)
	var rows []Result
	if err == nil {
		rows, err = s.readExecutionResults(ctx, id)
	}
	s.details.end(id, r, rows, nil)
	return rows, err
}

// ExecutionDetailJSON returns encode(execution, rows) for one execution,
// cached with the same exactness as ExecutionResults: a settled
// 10 000-PC execution that dashboards poll is encoded once, not on every
// request (encoding the rows costs more than reading them).
func (s *Store) ExecutionDetailJSON(ctx context.Context, id string, encode func(Execution, []Result) ([]byte, error)) ([]byte, error) {
	if b, ok := s.details.getEncoded(id); ok {
		return b, nil
	}
	r := s.details.begin(id)
	e, err := s.GetExecution(ctx, id)
	var rows []Result
	if err == nil {
		rows, err = s.readExecutionResults(ctx, id)
	}
	var b []byte
	if err == nil {
		b, err = encode(e, rows)
	}
	if err != nil {
		s.details.end(id, r, nil, nil)
		return nil, err
	}
	s.details.end(id, r, rows, b)
	return b, nil
}

// readExecutionResults is ExecutionResults without the cache; the caller
// has checked that the execution exists.
func (s *Store) readExecutionResults(ctx context.Context, id string) ([]Result, error) {
	targets, err := s.strings(ctx, `SELECT pc_id FROM execution_targets WHERE exec_id = ? ORDER BY pc_id`, id)
	if err != nil {
		return nil, fmt.Errorf("targets of %s: %w", id, err)
	}
	got, err := s.execResults(ctx, id)
	if err != nil {
		return nil, err
	}
	return mergeTargets(targets, got), nil
}

// execResults reads an execution's results ordered by pc_id.
func (s *Store) execResults(ctx context.Context, id string) ([]Result, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+resultColsNoOutput+` FROM execution_results r
		WHERE r.exec_id = ? ORDER BY r.pc_id`, id)
	if err != nil {
		return nil, fmt.Errorf("results of %s: %w", id, err)
	}
	defer rows.Close()
	out := []Result{}
	for rows.Next() {
		x, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("results of %s: %w", id, err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// mergeTargets walks the sorted target list and the sorted results
// together, filling pending rows for targets without a result. Rows leave
// out what the execution already says (exec, job, version) and the request
// id: at 10 000 PCs those repeated fields were a third of the answer.
func mergeTargets(targets []string, got []Result) []Result {
	for i := range got {
		got[i].ExecID, got[i].JobID, got[i].Version, got[i].RequestID = "", "", "", ""
	}
	out := make([]Result, 0, max(len(targets), len(got)))
	i := 0
	for _, pc := range targets {
		for i < len(got) && got[i].PCID < pc {
			out = append(out, got[i]) // a PC outside the target
			i++
		}
		if i < len(got) && got[i].PCID == pc {
			for i < len(got) && got[i].PCID == pc {
				out = append(out, got[i])
				i++
			}
			continue
		}
		out = append(out, Result{PCID: pc, Status: ResultPending})
	}
	return append(out, got[i:]...)
}

// ResultFilter selects results, newest first.
type ResultFilter struct {
	PC     string
	JobID  string
	ExecID string
	Status string // success | failure | running | skipped | lost
	Since  time.Time
	Limit  int
	Offset int
}

// ListResults pages through results with output clipped to ClipBytes.
func (s *Store) ListResults(ctx context.Context, f ResultFilter) (Page[Result], error) {
	limit, offset := pageBounds(f.Limit, f.Offset)
	page := Page[Result]{Items: []Result{}, Limit: limit, Offset: offset}
	w := &where{}
	if f.PC != "" {
		w.add("r.pc_id = ?", f.PC)
	}
	if f.JobID != "" {
		w.add("r.job_id = ?", f.JobID)
	}
	if f.ExecID != "" {
		w.add("r.exec_id = ?", f.ExecID)
	}
	switch f.Status {
	case "":
	case ResultSuccess, ResultFailure, ResultRunning, ResultSkipped, ResultLost:
		w.add("r.status = ?", f.Status)
	default:
		return page, &FilterError{Field: "status", Value: f.Status, Msg: "want success, failure, running, skipped or lost"}
	}
	if !f.Since.IsZero() {
		w.add("r.recorded_at >= ?", ts(f.Since))
	}
	var err error
	if page.Total, err = s.count(ctx, "execution_results r", w); err != nil {
		return page, err
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+resultColsClipped+" FROM execution_results r"+w.sql()+
		" ORDER BY r.recorded_at DESC, r.result_id DESC LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("list results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		x, err := scanResult(rows)
		if err != nil {
			return page, fmt.Errorf("list results: %w", err)
		}
		page.Items = append(page.Items, x)
	}
	return page, rows.Err()
}

// GetResult returns one result with its full output, or ErrNotFound.
func (s *Store) GetResult(ctx context.Context, id string) (Result, error) {
	x, err := scanResult(s.r.QueryRowContext(ctx, "SELECT "+resultColsFull+" FROM execution_results r WHERE r.result_id = ?", id))
	if err != nil {
		return x, notFound(err)
	}
	return x, nil
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	Since  time.Time // occurred_at >= Since
	Limit  int
	Offset int
}

// ListAudit pages through the audit log, newest (highest seq) first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) (Page[AuditEntry], error) {
	limit, offset := pageBounds(f.Limit, f.Offset)
	page := Page[AuditEntry]{Items: []AuditEntry{}, Limit: limit, Offset: offset}
	w := &where{}
	if f.Actor != "" {
		w.add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	if !f.Since.IsZero() {
		w.add("occurred_at >= ?", ts(f.Since))
	}
	var err error
	if page.Total, err = s.count(ctx, "audit_log", w); err != nil {
		return page, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, actor, action, target, payload, occurred_at, recorded_at
		FROM audit_log`+w.sql()+" ORDER BY seq DESC LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return page, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a AuditEntry
		var payload sql.NullString
		var occ, rec string
		if err := rows.Scan(&a.Seq, &a.Actor, &a.Action, &a.Target, &payload, &occ, &rec); err != nil {
			return page, fmt.Errorf("list audit: %w", err)
		}
		if payload.Valid {
			a.Payload = json.RawMessage(payload.String)
		}
		a.OccurredAt, a.RecordedAt = parseTS(occ), parseTS(rec)
		page.Items = append(page.Items, a)
	}
	return page, rows.Err()
}

// ListTicks returns the newest limit decisions of a schedule, newest first.
func (s *Store) ListTicks(ctx context.Context, scheduleID string, limit int) ([]Tick, error) {
	limit, _ = pageBounds(limit, 0)
	rows, err := s.r.QueryContext(ctx, `SELECT schedule_id, tick_at, action, reason, expected, armed,
		suppressed, fired, exec_id FROM schedule_ticks WHERE schedule_id = ? ORDER BY id DESC LIMIT ?`,
		scheduleID, limit)
	if err != nil {
		return nil, fmt.Errorf("list ticks of %s: %w", scheduleID, err)
	}
	defer rows.Close()
	out := []Tick{}
	for rows.Next() {
		var t Tick
		var at string
		if err := rows.Scan(&t.ScheduleID, &at, &t.Action, &t.Reason, &t.Expected, &t.Armed,
			&t.Suppressed, &t.Fired, &t.ExecID); err != nil {
			return nil, fmt.Errorf("list ticks of %s: %w", scheduleID, err)
		}
		t.TickAt = parseTS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}

// ListDeadLetters pages through undecodable messages, newest first.
func (s *Store) ListDeadLetters(ctx context.Context, limit, offset int) (Page[DeadLetter], error) {
	limit, offset = pageBounds(limit, offset)
	page := Page[DeadLetter]{Items: []DeadLetter{}, Limit: limit, Offset: offset}
	var err error
	if page.Total, err = s.count(ctx, "dead_letters", &where{}); err != nil {
		return page, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT stream, seq, subject, error, data, recorded_at FROM dead_letters
		ORDER BY recorded_at DESC, stream, seq DESC LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return page, fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DeadLetter
		var rec string
		if err := rows.Scan(&d.Stream, &d.Seq, &d.Subject, &d.Error, &d.Data, &rec); err != nil {
			return page, fmt.Errorf("list dead letters: %w", err)
		}
		d.RecordedAt = parseTS(rec)
		page.Items = append(page.Items, d)
	}
	return page, rows.Err()
}

// InventoryRow is a PC's newest inventory report.
type InventoryRow struct {
	PCID        string          `json:"pc_id"`
	CollectedAt time.Time       `json:"collected_at"`
	Facts       json.RawMessage `json:"facts"`
	RecordedAt  time.Time       `json:"recorded_at"`
}

// GetInventory returns a PC's inventory or ErrNotFound.
func (s *Store) GetInventory(ctx context.Context, pc string) (InventoryRow, error) {
	rows, err := s.queryInventory(ctx, `WHERE pc_id = ?`, pc)
	if err != nil {
		return InventoryRow{}, err
	}
	if len(rows.Items) == 0 {
		return InventoryRow{}, ErrNotFound
	}
	return rows.Items[0], nil
}

var factPath = regexp.MustCompile(`^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$`)

// SearchInventory finds PCs whose fact at the dotted path field equals
// value (compared as text), e.g. field "os.name", value "Ubuntu".
func (s *Store) SearchInventory(ctx context.Context, field, value string, limit, offset int) (Page[InventoryRow], error) {
	if !factPath.MatchString(field) {
		return Page[InventoryRow]{Items: []InventoryRow{}}, &FilterError{Field: "field", Value: field,
			Msg: "want a dotted path of letters, digits and '_'"}
	}
	limit, offset = pageBounds(limit, offset)
	page, err := s.queryInventory(ctx, `WHERE CAST(json_extract(facts, ?) AS TEXT) = ? ORDER BY pc_id LIMIT ? OFFSET ?`,
		"$."+field, value, limit, offset)
	if err != nil {
		return page, err
	}
	page.Limit, page.Offset = limit, offset
	err = s.r.QueryRowContext(ctx, `SELECT count(*) FROM inventory WHERE CAST(json_extract(facts, ?) AS TEXT) = ?`,
		"$."+field, value).Scan(&page.Total)
	if err != nil {
		return page, fmt.Errorf("search inventory: %w", err)
	}
	return page, nil
}

func (s *Store) queryInventory(ctx context.Context, tail string, args ...any) (Page[InventoryRow], error) {
	page := Page[InventoryRow]{Items: []InventoryRow{}}
	rows, err := s.r.QueryContext(ctx, `SELECT pc_id, collected_at, facts, recorded_at FROM inventory `+tail, args...)
	if err != nil {
		return page, fmt.Errorf("query inventory: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r InventoryRow
		var col, facts, rec string
		if err := rows.Scan(&r.PCID, &col, &facts, &rec); err != nil {
			return page, fmt.Errorf("query inventory: %w", err)
		}
		r.CollectedAt, r.Facts, r.RecordedAt = parseTS(col), json.RawMessage(facts), parseTS(rec)
		page.Items = append(page.Items, r)
	}
	return page, rows.Err()
}
