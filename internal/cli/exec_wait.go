package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/kanade-dev/kanade/internal/client"
	"github.com/kanade-dev/kanade/internal/store"
)

// streamRetries bounds reconnects when the event stream drops before the
// execution is complete (a proxy timeout, a server restart).
const streamRetries = 5

// streamBackoff is a variable so tests need not sleep.
var streamBackoff = time.Second

// progress folds the event stream into what the bar and summary show.
type progress struct {
	total   int
	exec    *store.Execution
	results map[string]store.Result // by pc_id: a PC runs an exec once
	done    bool
	bar     *progressbar.ProgressBar
}

func newProgress(total int, w io.Writer) *progress {
	p := &progress{total: total, results: map[string]store.Result{}}
	if total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("waiting"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// handle applies one event; "done" stops the stream.
func (p *progress) handle(ev client.Event) error {
	switch ev.Name {
	case "execution":
		var x store.Execution
		if err := json.Unmarshal(ev.Data, &x); err != nil {
			return fmt.Errorf("decode execution event: %w", err)
		}
		p.exec = &x
		if x.TargetCount > p.total {
			p.total = x.TargetCount
		}
	case "result":
		var r store.Result
		if err := json.Unmarshal(ev.Data, &r); err != nil {
			return fmt.Errorf("decode result event: %w", err)
		}
		p.results[r.PCID] = r
	case "done":
		p.done = true
		p.render()
		return client.ErrStopStream
	}
	p.render()
	return nil
}

// counts prefers the execution's counters (exactly-once on the server) and
// falls back to the results seen, whichever has advanced further.
func (p *progress) counts() (finished, failed int) {
	for _, r := range p.results {
		if r.Status == store.ResultRunning || r.Status == store.ResultPending {
			continue
		}
		finished++
		if failedResult(r) {
			failed++
		}
	}
	if x := p.exec; x != nil {
		if n := x.Succeeded + x.Failed + x.Skipped + x.Lost; n > finished {
			finished = n
		}
		if n := x.Failed + x.Lost; n > failed {
			failed = n
		}
	}
	return finished, failed
}

func failedResult(r store.Result) bool {
	return r.Status == store.ResultFailure || r.Status == store.ResultLost || r.TimedOut
}

func (p *progress) render() {
	if p.bar == nil {
		return
	}
	finished, failed := p.counts()
	if p.total != p.bar.GetMax() {
		p.bar.ChangeMax(p.total)
	}
	desc := "running"
	if failed > 0 {
		desc = fmt.Sprintf("running, %d failed", failed)
	}
	p.bar.Describe(desc)
	_ = p.bar.Set(finished)
}

// close ends the bar's line even when not every PC answered.
func (p *progress) close() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Exit()
	}
}

// terminal reports whether the execution will not change any more.
func (p *progress) terminal() bool {
	if p.done {
		return true
	}
	return p.exec != nil && (p.exec.Status == store.StatusCompleted || p.exec.Status == store.StatusExpired)
}

// waitExec follows an exec to its end, prints the per-PC summary and
// turns failures into exit code 1.
func waitExec(e *env, started client.ExecResponse) error {
	p := newProgress(started.TargetCount, e.stderr)
	err := follow(e, started.ExecID, p)
	p.close()
	if err != nil {
		return err
	}
	detail, raw, err := finalDetail(e, started.ExecID, p)
	if err != nil {
		return err
	}
	if err := e.show(raw, func(w io.Writer) error { return execSummary(w, detail) }); err != nil {
		return err
	}
	if anyFailed(detail) {
		return exitError{code: 1}
	}
	return nil
}

// follow reads the stream, reconnecting if it ends before the execution
// is over; the server replays current state on every connect.
func follow(e *env, execID string, p *progress) error {
	var lastErr error
	for attempt := 0; attempt <= streamRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-e.ctx.Done():
				return e.ctx.Err()
			case <-time.After(streamBackoff):
			}
		}
		err := e.client.StreamExecution(e.ctx, execID, p.handle)
		if e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		var ae *client.APIError
		if errors.As(err, &ae) {
			return err // the server said no; retrying will not change that
		}
		if err == nil && p.terminal() {
			return nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("stream kept ending before the execution completed")
	}
	return fmt.Errorf("follow execution %s: %w", execID, lastErr)
}

// finalDetail asks the server for the authoritative end state (it also
// lists target PCs that never answered); the streamed view is the fallback.
func finalDetail(e *env, execID string, p *progress) (client.ExecutionDetail, []byte, error) {
	if rep, err := e.client.GetExecution(e.ctx, execID); err == nil {
		return rep.Value, rep.Raw, nil
	}
	var d client.ExecutionDetail
	if p.exec != nil {
		d.Execution = *p.exec
	}
	for _, r := range p.results {
		d.Results = append(d.Results, r)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return d, nil, fmt.Errorf("encode summary: %w", err)
	}
	return d, raw, nil
}

func anyFailed(d client.ExecutionDetail) bool {
	if d.Execution.Failed > 0 || d.Execution.Lost > 0 {
		return true
	}
	for _, r := range d.Results {
		if failedResult(r) {
			return true
		}
	}
	return false
}

// execSummary is the per-PC table printed after --wait and by
// "executions get".
func execSummary(w io.Writer, d client.ExecutionDetail) error {
	rs := append([]store.Result(nil), d.Results...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].PCID < rs[j].PCID })
	tw := newTable(w, "PC", "STATUS", "EXIT", "DURATION", "STDERR")
	for _, r := range rs {
		row(tw, r.PCID, resultStatus(r), exitCode(r.ExitCode), elapsed(r.StartedAt, r.FinishedAt), firstLineOf(r.Stderr))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	x := d.Execution
	_, err := fmt.Fprintf(w, "%d succeeded, %d failed, %d skipped, %d lost, %d running of %d targeted (%s)\n",
		x.Succeeded, x.Failed, x.Skipped, x.Lost, x.Running, x.TargetCount, cell(x.Status))
	return err
}

// resultStatus adds the why to a status: timed out, killed, skip reason.
func resultStatus(r store.Result) string {
	s := r.Status
	switch {
	case r.TimedOut:
		s += " (timed out)"
	case r.Killed:
		s += " (killed)"
	case r.SkipReason != "":
		s += " (" + r.SkipReason + ")"
	}
	return s
}
