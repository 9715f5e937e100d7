package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/wire"
)

// killMemory is how long a kill is remembered for commands that arrive
// after it (a catch-up of an exec that was killed meanwhile).
const killMemory = time.Hour

// marker is the on-disk record of an accepted command (runs/<result_id>.json).
// It is written before anything else happens to the command and removed
// once the result sits in the outbox, so a restart can tell "never
// started, resume it" from "started, outcome lost".
type marker struct {
	ResultID   string       `json:"result_id"`
	AcceptedAt time.Time    `json:"accepted_at"`
	StartedAt  *time.Time   `json:"started_at,omitempty"`
	Command    wire.Command `json:"command"`
}

// run is one accepted command in memory.
type run struct {
	marker
	killCh   chan struct{} // closed by a kill
	killOnce sync.Once
	killed   bool               // under Agent.mu
	cancel   context.CancelFunc // under Agent.mu; set while executing
}

func (r *run) kill() { r.killOnce.Do(func() { close(r.killCh) }) }

// handleCommand is the single entry for live and catch-up commands.
func (a *Agent) handleCommand(data []byte, subject string) {
	var cmd wire.Command
	if err := json.Unmarshal(data, &cmd); err != nil {
		a.log.Warn("dropping undecodable command", "subject", subject, "err", err)
		return
	}
	if err := checkCommand(cmd); err != nil {
		a.log.Warn("dropping invalid command", "subject", subject, "err", err)
		return
	}
	if len(cmd.PCs) > 0 && !slices.Contains(cmd.PCs, a.cfg.PCID) {
		return
	}
	if a.isClosing() {
		// Not marked seen: the next start catches it up again.
		return
	}
	now := time.Now().UTC()
	fresh, err := a.seen.MarkIfNew(cmd.RequestID, now)
	if err != nil {
		// Without a durable mark a crash could run it twice; refuse.
		a.log.Error("cannot record request id; command not run", "request_id", cmd.RequestID, "err", err)
		return
	}
	if !fresh {
		return
	}
	r := &run{marker: marker{ResultID: uuid.NewString(), AcceptedAt: now, Command: cmd}}
	if err := a.writeMarker(&r.marker); err != nil {
		a.log.Warn("cannot write run marker; a crash would lose this run silently", "err", err)
	}
	a.log.Info("command accepted", "exec_id", cmd.ExecID, "request_id", cmd.RequestID, "job_id", cmd.JobID, "subject", subject)
	a.startRun(r)
}

// checkCommand rejects what cannot be handled safely. exec_id ends up in
// subjects, so it must be a plain id.
func checkCommand(c wire.Command) error {
	if strings.TrimSpace(c.RequestID) == "" {
		return errors.New("request_id: must not be empty")
	}
	return ident.Check("exec_id", c.ExecID)
}

func (a *Agent) isClosing() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closing
}

// startRun registers r for kills and processes it in its own goroutine.
// Goroutines exist only while a command is in flight.
func (a *Agent) startRun(r *run) {
	r.killCh = make(chan struct{})
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return // the marker stays; the next start resumes it
	}
	if _, ok := a.killed[r.Command.ExecID]; ok {
		r.killed = true
		r.kill()
	}
	a.active[r.Command.ExecID] = append(a.active[r.Command.ExecID], r)
	a.runsWG.Add(1)
	a.mu.Unlock()
	go a.process(r)
}

func (a *Agent) forget(r *run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rs := slices.DeleteFunc(a.active[r.Command.ExecID], func(x *run) bool { return x == r })
	if len(rs) == 0 {
		delete(a.active, r.Command.ExecID)
	} else {
		a.active[r.Command.ExecID] = rs
	}
}

// handleKill ends every run of the exec: waiting ones are skipped,
// running ones have their process tree killed.
func (a *Agent) handleKill(execID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.killed[execID] = time.Now()
	for _, r := range a.active[execID] {
		r.killed = true
		r.kill()
		if r.cancel != nil {
			r.cancel()
		}
	}
}

// process walks one command through deadline, jitter, queue, run.
func (a *Agent) process(r *run) {
	defer a.runsWG.Done()
	defer a.forget(r)
	if reason := a.skipReason(r); reason != "" {
		a.complete(r, a.skipped(r, reason))
		return
	}
	if !a.wait(r, r.AcceptedAt.Add(JitterOffset(a.cfg.PCID, r.Command.ExecID, jitterOf(r.Command)))) {
		return
	}
	if !a.acquire(r) {
		return
	}
	defer a.limit.release()
	// Re-checked after the wait: "do not start after deadline_at" holds
	// for time spent in jitter and in the queue too.
	if reason := a.skipReason(r); reason != "" {
		a.complete(r, a.skipped(r, reason))
		return
	}
	a.execute(r)
}

func jitterOf(c wire.Command) time.Duration { return time.Duration(c.JitterSecs) * time.Second }

func (a *Agent) skipReason(r *run) string {
	select {
	case <-r.killCh:
		return wire.SkipKilledBeforeStart
	default:
	}
	if d := r.Command.DeadlineAt; d != nil && time.Now().After(*d) {
		return wire.SkipDeadline
	}
	return ""
}

// wait sleeps until the jitter instant. It returns false when the agent
// is shutting down: the run keeps its marker and resumes at next start.
// A kill ends the wait early; skipReason reports it.
func (a *Agent) wait(r *run, until time.Time) bool {
	d := time.Until(until)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.killCh:
		a.complete(r, a.skipped(r, wire.SkipKilledBeforeStart))
		return false
	case <-a.runsCtx.Done():
		return false
	}
}

// acquire takes a concurrency slot, with the same exits as wait.
func (a *Agent) acquire(r *run) bool {
	ok, killed := a.limit.acquire(r.killCh, a.runsCtx.Done())
	if killed {
		a.complete(r, a.skipped(r, wire.SkipKilledBeforeStart))
	}
	return ok
}

// execute marks the run started on disk before anything is published or
// spawned, so a crash from here on is reported as lost, never re-run.
func (a *Agent) execute(r *run) {
	ctx, cancel := context.WithCancel(a.runsCtx)
	defer cancel()
	a.mu.Lock()
	if r.killed {
		a.mu.Unlock()
		a.complete(r, a.skipped(r, wire.SkipKilledBeforeStart))
		return
	}
	r.cancel = cancel
	a.mu.Unlock()

	started := time.Now().UTC()
	r.StartedAt = &started
	if err := a.writeMarker(&r.marker); err != nil {
		a.log.Warn("cannot update run marker", "err", err)
	}
	a.enqueue(wire.SubjectStarted(r.Command.ExecID, a.cfg.PCID), r.ResultID+":started", a.startedEvent(r))

	job := a.job(r)
	out := a.cfg.Executor.Execute(ctx, job)
	if ctx.Err() != nil {
		out.Killed = true // whatever the executor says, we ended it
		if a.runsCtx.Err() != nil && !r.wasKilled(a) {
			out.Stderr += "kanade: agent stopped while the command was running\n"
		}
	}
	a.complete(r, a.result(r, out))
}

func (r *run) wasKilled(a *Agent) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.killed
}

func (a *Agent) job(r *run) Job {
	c := r.Command
	timeout := time.Duration(c.TimeoutSecs) * time.Second
	if timeout <= 0 {
		// Manifests require a timeout; a command without one is a
		// producer bug. A day bounds the damage without failing the run.
		timeout = 24 * time.Hour
	}
	return Job{
		ExecID: c.ExecID, ResultID: r.ResultID, PCID: a.cfg.PCID,
		Shell: c.Shell, Script: c.Script, Timeout: timeout,
		Cwd: c.Cwd, Env: c.Env, OutputCap: int(a.outputCap.Load()), ScratchDir: a.scratchDir,
	}
}

func (a *Agent) startedEvent(r *run) wire.Started {
	c := r.Command
	return wire.Started{
		ResultID: r.ResultID, RequestID: c.RequestID, ExecID: c.ExecID, JobID: c.JobID,
		PCID: a.cfg.PCID, StartedAt: *r.StartedAt, TimeoutSecs: c.TimeoutSecs,
	}
}

func (a *Agent) baseResult(r *run) wire.ExecResult {
	c := r.Command
	now := time.Now().UTC()
	res := wire.ExecResult{
		ResultID: r.ResultID, RequestID: c.RequestID, ExecID: c.ExecID, JobID: c.JobID,
		Version: c.Version, PCID: a.cfg.PCID, StartedAt: now, FinishedAt: now,
	}
	if r.StartedAt != nil {
		res.StartedAt = *r.StartedAt
	}
	return res
}

func (a *Agent) skipped(r *run, reason string) wire.ExecResult {
	res := a.baseResult(r)
	res.Skipped, res.SkipReason, res.ExitCode = true, reason, ExitNoStatus
	return res
}

func (a *Agent) result(r *run, o Outcome) wire.ExecResult {
	res := a.baseResult(r)
	res.ExitCode = o.ExitCode
	res.TimedOut, res.Killed = o.TimedOut, o.Killed
	res.Stdout, res.StdoutTruncated = o.Stdout, o.StdoutTruncated
	res.Stderr, res.StderrTruncated = o.Stderr, o.StderrTruncated
	return res
}

// lostResult reports a run that had started when the agent died. It was
// not re-run (that could repeat a non-idempotent script); the result says
// killed so success ratios count it as a failure, and stderr says why.
func (a *Agent) lostResult(r *run) wire.ExecResult {
	res := a.baseResult(r)
	res.Killed, res.ExitCode = true, ExitNoStatus
	res.Stderr = "kanade: the agent stopped (crash or restart) while this command was running; " +
		"its outcome is unknown and it was not re-run\n"
	return res
}

// complete queues the result, then drops the marker. A crash between the
// two leaves both; recover sees the result in the outbox and does not
// report the run as lost.
func (a *Agent) complete(r *run, res wire.ExecResult) {
	a.enqueue(wire.SubjectResult(r.Command.ExecID, a.cfg.PCID), r.ResultID, res)
	if a.local != nil {
		// Local schedules count this PC's own completions, including
		// runs the backend dispatched.
		a.local.ObserveResult(res)
	}
	if err := os.Remove(a.markerPath(r.ResultID)); err != nil && !os.IsNotExist(err) {
		a.log.Warn("remove run marker", "err", err)
	}
	a.log.Info("command finished", "exec_id", r.Command.ExecID, "result_id", r.ResultID,
		"exit_code", res.ExitCode, "skipped", res.SkipReason, "timed_out", res.TimedOut, "killed", res.Killed)
}

func (a *Agent) enqueue(subject, msgID string, v any) {
	data, err := json.Marshal(v)
	if err == nil {
		err = a.outbox.Put(outboxEntry{Subject: subject, MsgID: msgID, Data: data})
	}
	if err != nil {
		a.log.Error("cannot queue message; it is lost", "subject", subject, "msg_id", msgID, "err", err)
	}
}

func (a *Agent) markerPath(resultID string) string {
	return filepath.Join(a.runsDir, resultID+".json")
}

func (a *Agent) writeMarker(m *marker) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode run marker: %w", err)
	}
	path := a.markerPath(m.ResultID)
	return writeFileAtomic(path+".tmp", path, data, !a.cfg.NoFsync)
}

// recover handles the markers a previous process left: started runs are
// reported lost, runs that never started are resumed with their original
// acceptance time (so the jitter instant does not move).
func (a *Agent) recover() {
	ents, err := os.ReadDir(a.runsDir)
	if err != nil {
		a.log.Warn("read run markers", "err", err)
		return
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		a.recoverOne(filepath.Join(a.runsDir, e.Name()))
	}
}

func (a *Agent) recoverOne(path string) {
	data, err := os.ReadFile(path)
	var m marker
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil || m.ResultID == "" {
		a.log.Warn("discarding unreadable run marker", "path", path, "err", err)
		_ = os.Rename(path, path+".bad")
		return
	}
	r := &run{marker: m}
	switch {
	case a.outbox.Has(m.ResultID):
		_ = os.Remove(path) // the result was queued just before the crash
	case m.StartedAt != nil:
		a.log.Warn("reporting a run interrupted by an agent restart", "exec_id", m.Command.ExecID, "result_id", m.ResultID)
		a.complete(r, a.lostResult(r))
	default:
		a.log.Info("resuming a command accepted before restart", "exec_id", m.Command.ExecID, "result_id", m.ResultID)
		a.startRun(r)
	}
}
