package manifest

import (
	"time"

	"github.com/kanade-dev/kanade/internal/wire"
)

// Command builds the wire Command that runs this job. The backend's fan-out
// and the agent's local scheduler both build commands here, so the two
// cannot drift apart. requestID and execID are chosen by the caller.
func (j *Job) Command(execID, requestID, actor string, jitter time.Duration, deadline *time.Time, now time.Time) wire.Command {
	return wire.Command{
		RequestID:   requestID,
		ExecID:      execID,
		JobID:       j.ID,
		Version:     j.Version,
		Shell:       j.Execute.Shell,
		Script:      j.Execute.Script,
		TimeoutSecs: int64(j.Execute.Timeout.Std().Seconds()),
		Cwd:         j.Execute.Cwd,
		Env:         j.Execute.Env,
		JitterSecs:  int64(jitter.Seconds()),
		DeadlineAt:  deadline,
		IssuedAt:    now.UTC(),
		Actor:       actor,
	}
}
