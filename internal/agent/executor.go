package agent

import (
	"context"
	"time"
)

// Job is one script to run, as the agent hands it to an Executor.
type Job struct {
	ExecID   string // for logs; an in-process executor may key behaviour on it
	ResultID string
	PCID     string
	Shell    string // sh | bash | pwsh | powershell | cmd
	Script   string
	Timeout  time.Duration // > 0; the executor enforces it and reports TimedOut
	Cwd      string
	Env      map[string]string
	// OutputCap is the number of bytes kept per stream (head + tail).
	OutputCap int
	// ScratchDir is a per-agent directory the executor may write the
	// script file into; it exists when Execute is called.
	ScratchDir string
}

// Outcome is what the executor observed.
type Outcome struct {
	ExitCode        int
	Stdout          string
	Stderr          string
	StdoutTruncated bool
	StderrTruncated bool
	TimedOut        bool
	Killed          bool
}

// Executor runs jobs. Execute must return promptly once ctx is done
// (an operator kill or agent shutdown), with Killed set and the process
// tree gone. It must never panic on bad input: a job it cannot run is a
// failed Outcome with the reason on Stderr.
type Executor interface {
	Execute(ctx context.Context, job Job) Outcome
}

// ExecutorFunc adapts a function to Executor; handy for simulators.
type ExecutorFunc func(ctx context.Context, job Job) Outcome

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, job Job) Outcome { return f(ctx, job) }

// Exit codes the agent reports for runs that never produced one.
const (
	ExitNotRun    = 127 // shell missing or unsupported, script not written
	ExitNoStatus  = -1  // killed, timed out or lost: the process gave no code
	exitWaitError = 126 // the process could not be started
)
