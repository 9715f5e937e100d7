package store

import (
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound is returned by single-row reads; the API maps it to 404.
var ErrNotFound = errors.New("not found")

// OnlineWindow is the one definition of "online" shared by the API, the
// dashboard and the scheduler (SPEC §4.1 rule 5).
const OnlineWindow = 2 * time.Minute

// Execution statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusExpired   = "expired"
)

// Result statuses, derived from a row's state; also the API's status filter.
const (
	ResultRunning = "running"
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultSkipped = "skipped"
	ResultLost    = "lost"
	// ResultPending is never stored: the execution detail reports it for a
	// target PC that has not answered yet.
	ResultPending = "pending"
)

// Page is the envelope of every list answer.
type Page[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// Agent is one row of the agents table plus its groups.
type Agent struct {
	PCID          string    `json:"pc_id"`
	Hostname      string    `json:"hostname"`
	OS            string    `json:"os"`
	Arch          string    `json:"arch"`
	AgentVersion  string    `json:"agent_version"`
	BootTime      time.Time `json:"boot_time"`
	RSSBytes      uint64    `json:"agent_rss_bytes"`
	CPUPct        float64   `json:"agent_cpu_pct"`
	FirstSeen     time.Time `json:"first_seen"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Online        bool      `json:"online"`
	Groups        []string  `json:"groups"`
}

// Execution is one exec (manual or scheduled).
type Execution struct {
	ExecID      string          `json:"exec_id"`
	JobID       string          `json:"job_id"`
	Version     string          `json:"version"`
	InitiatedBy string          `json:"initiated_by"`
	InitiatedAt time.Time       `json:"initiated_at"`
	Target      json.RawMessage `json:"target,omitempty"` // the plan's target as given
	Subjects    []string        `json:"subjects"`
	TargetCount int             `json:"target_count"`
	Running     int             `json:"running"`
	Succeeded   int             `json:"succeeded"`
	Failed      int             `json:"failed"`
	Skipped     int             `json:"skipped"`
	Lost        int             `json:"lost"`
	Status      string          `json:"status"`
	DeadlineAt  *time.Time      `json:"deadline_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
}

// Result is one row of execution_results.
type Result struct {
	ResultID   string `json:"result_id"`
	RequestID  string `json:"request_id,omitempty"`
	ExecID     string `json:"exec_id,omitempty"` // empty in execution-detail rows
	JobID      string `json:"job_id,omitempty"`
	Version    string `json:"version,omitempty"`
	PCID       string `json:"pc_id"`
	Status     string `json:"status"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	SkipReason string `json:"skip_reason,omitempty"`
	// Zero values are left out: they were most of a 10 000-row detail.
	TimedOut        bool       `json:"timed_out,omitempty"`
	Killed          bool       `json:"killed,omitempty"`
	Stdout          string     `json:"stdout,omitempty"`
	Stderr          string     `json:"stderr,omitempty"`
	StdoutTruncated bool       `json:"stdout_truncated,omitempty"`
	StderrTruncated bool       `json:"stderr_truncated,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	RecordedAt      time.Time  `json:"recorded_at"`
}

// AuditEntry is one row of audit_log, keyed by its AUDIT stream sequence.
type AuditEntry struct {
	Seq        uint64          `json:"seq"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// Tick is one row of the scheduler's decision log.
type Tick struct {
	ScheduleID string    `json:"schedule_id"`
	TickAt     time.Time `json:"tick_at"`
	Action     string    `json:"action"` // fired_whole | fired_pcs | skipped
	Reason     string    `json:"reason,omitempty"`
	Expected   int       `json:"expected"`
	Armed      int       `json:"armed"`
	Suppressed int       `json:"suppressed"`
	Fired      int       `json:"fired"`
	ExecID     string    `json:"exec_id,omitempty"`
}

// DeadLetter is a broker message a projector could not decode.
type DeadLetter struct {
	Stream     string    `json:"stream"`
	Seq        uint64    `json:"seq"`
	Subject    string    `json:"subject"`
	Error      string    `json:"error"`
	Data       []byte    `json:"data"`
	RecordedAt time.Time `json:"recorded_at"`
}
