// Package wire holds the JSON messages that cross the broker (SPEC §3.4)
// and the subject names they travel on. It has no behaviour beyond
// encoding, so every role can share it.
package wire

import "time"

// TimeFormat is RFC 3339 in UTC with a fixed nine-digit fraction, so text
// comparison of two values orders them (RFC3339Nano drops trailing zeros).
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Stamp formats t in UTC for the wire and for SQLite.
func Stamp(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Command is published by the backend on commands.* subjects.
type Command struct {
	RequestID   string            `json:"request_id"`
	ExecID      string            `json:"exec_id"`
	JobID       string            `json:"job_id"`
	Version     string            `json:"version"`
	Shell       string            `json:"shell"`
	Script      string            `json:"script"`
	TimeoutSecs int64             `json:"timeout_secs"`
	Cwd         string            `json:"cwd,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	JitterSecs  int64             `json:"jitter_secs,omitempty"`
	DeadlineAt  *time.Time        `json:"deadline_at,omitempty"`
	IssuedAt    time.Time         `json:"issued_at"`
	Actor       string            `json:"actor"`
	// PCs, when set, restricts the command to these agents. It lets a
	// command published on commands.all or a group subject name its
	// audience exactly (scheduler subsets go to commands.pc.* instead, so
	// this is empty on every command the server publishes today).
	PCs []string `json:"pcs,omitempty"`
}

// Started is published by an agent just before it runs a command.
type Started struct {
	ResultID  string    `json:"result_id"`
	RequestID string    `json:"request_id"`
	ExecID    string    `json:"exec_id"`
	JobID     string    `json:"job_id"`
	PCID      string    `json:"pc_id"`
	StartedAt time.Time `json:"started_at"`
	// TimeoutSecs lets the reaper judge a running row without the job.
	TimeoutSecs int64 `json:"timeout_secs,omitempty"`
}

// Skip reasons reported in ExecResult.SkipReason.
const (
	SkipDeadline          = "deadline"
	SkipKilledBeforeStart = "killed_before_start"
)

// ExecResult is the outcome of one command on one PC. ResultID is chosen
// by the agent before it starts and is the idempotency key everywhere.
type ExecResult struct {
	ResultID        string    `json:"result_id"`
	RequestID       string    `json:"request_id"`
	ExecID          string    `json:"exec_id"`
	JobID           string    `json:"job_id"`
	Version         string    `json:"version"`
	PCID            string    `json:"pc_id"`
	ExitCode        int       `json:"exit_code"`
	Skipped         bool      `json:"skipped"`
	SkipReason      string    `json:"skip_reason,omitempty"`
	TimedOut        bool      `json:"timed_out"`
	Killed          bool      `json:"killed"`
	Stdout          string    `json:"stdout"`
	Stderr          string    `json:"stderr"`
	StdoutTruncated bool      `json:"stdout_truncated"`
	StderrTruncated bool      `json:"stderr_truncated"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
}

// Succeeded is the one definition of success shared by counters, coverage
// and the scheduler's completions.
func (r *ExecResult) Succeeded() bool {
	return !r.Skipped && !r.TimedOut && !r.Killed && r.ExitCode == 0
}

// Heartbeat is published on core NATS every heartbeat interval.
type Heartbeat struct {
	PCID          string    `json:"pc_id"`
	At            time.Time `json:"at"`
	AgentVersion  string    `json:"agent_version"`
	Hostname      string    `json:"hostname"`
	OS            string    `json:"os"`
	Arch          string    `json:"arch"`
	BootTime      time.Time `json:"boot_time"`
	AgentRSSBytes uint64    `json:"agent_rss_bytes"`
	AgentCPUPct   float64   `json:"agent_cpu_pct"`
}

// Inventory is published at agent start and every inventory interval.
type Inventory struct {
	PCID        string         `json:"pc_id"`
	CollectedAt time.Time      `json:"collected_at"`
	Facts       map[string]any `json:"facts"`
}

// AuditEvent is published by the backend for every state change.
type AuditEvent struct {
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	Payload    any       `json:"payload,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// AgentGroups is the value stored in KV agent_groups under a pc id.
type AgentGroups struct {
	Groups []string `json:"groups"`
}
