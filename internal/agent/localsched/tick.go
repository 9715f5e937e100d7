package localsched

import (
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/schedule"
	"github.com/kanade-dev/kanade/internal/wire"
)

var errJobMissing = errors.New("job not in the local cache")

// Tick runs every cached schedule that targets this PC at now, hands the
// fired commands to Run and returns them.
func (t *Ticker) Tick(now time.Time) []wire.Command {
	groups := t.cfg.Groups()
	t.mu.Lock()
	ids := make([]string, 0, len(t.st.Schedules))
	for id := range t.st.Schedules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var cmds []wire.Command
	changed := false
	for _, id := range ids {
		cmd, fired, moved := t.tickOne(id, groups, now)
		changed = changed || fired || moved
		if fired {
			cmds = append(cmds, cmd)
		}
	}
	// The fire is on disk before the agent sees the command: a crash in
	// between loses one run (the next window re-arms it) rather than
	// running it twice after a restart.
	if changed {
		t.saveLocked()
	}
	t.mu.Unlock()
	for _, cmd := range cmds {
		t.cfg.Run(cmd)
	}
	return cmds
}

// tickOne reports the command to fire (if fired) and whether the calendar
// cursor moved.
func (t *Ticker) tickOne(id string, groups []string, now time.Time) (wire.Command, bool, bool) {
	log := t.cfg.Log.With("schedule", id)
	s, err := manifest.ReadSchedule(t.st.Schedules[id])
	if err != nil || !s.IsEnabled() || !t.targetsMe(s, groups) {
		return wire.Command{}, false, false
	}
	low, err := schedule.Lower(s)
	if err != nil {
		log.Error("schedule does not lower; skipped", "err", err)
		return wire.Command{}, false, false
	}
	at, moved := now, false
	if low.Mode == schedule.EveryTick {
		due, ok := t.dueMinute(id, low, now)
		if !ok {
			return wire.Command{}, false, false
		}
		at, moved = due, true
		t.st.Cursor[id] = due
	}
	if !low.Active(at) {
		log.Debug("dormant: outside the active window")
		return wire.Command{}, false, moved
	}
	job, err := t.job(s.JobID)
	if err != nil {
		log.Warn("schedule's job is not cached; skipped", "job", s.JobID, "err", err)
		return wire.Command{}, false, moved
	}
	if low.Mode != schedule.EveryTick && !t.armed(id, s, low, job, now) {
		return wire.Command{}, false, moved
	}
	cmd := t.command(s, job, at, now)
	t.st.Runs[id] = runMark{ExecID: cmd.ExecID, FiredAt: now}
	log.Info("agent-side schedule fired", "exec_id", cmd.ExecID, "job", job.ID)
	return cmd, true, moved
}

// armed is steps 4–5 of the backend pipeline with expected = roster = me:
// the shared policy, then in-flight suppression against this ticker's own
// last run.
func (t *Ticker) armed(id string, s *manifest.Schedule, low *schedule.Lowered, job *manifest.Job, now time.Time) bool {
	me := []string{t.cfg.PCID}
	var completions []policy.Completion
	if at, ok := t.st.Successes[job.ID]; ok {
		completions = append(completions, policy.Completion{PC: t.cfg.PCID, At: at})
	}
	d := policy.Decide(low.Mode, low.Cooldown, me, me, completions, now)
	if d.Action == policy.Skip {
		return false
	}
	m, ok := t.st.Runs[id]
	if !ok {
		return true
	}
	if !m.Done && now.Sub(m.FiredAt) < t.cfg.MaxInFlight {
		return false
	}
	window := policy.Window(s.Jitter.Std(), job.Execute.Timeout.Std())
	d, _ = policy.Suppress(d, map[string]time.Time{t.cfg.PCID: m.FiredAt}, &m.FiredAt, window, now)
	return d.Action != policy.Skip
}

// dueMinute finds the newest due calendar minute after the cursor, looking
// back at most CatchUp: a minute the agent slept through (suspend, a slow
// tick) still fires, once.
func (t *Ticker) dueMinute(id string, low *schedule.Lowered, now time.Time) (time.Time, bool) {
	m := now.Truncate(time.Minute)
	done := t.st.Cursor[id]
	for d := m; !d.Before(m.Add(-t.cfg.CatchUp)) && d.After(done); d = d.Add(-time.Minute) {
		if low.Due(d) {
			return d, true
		}
	}
	return time.Time{}, false
}

func (t *Ticker) targetsMe(s *manifest.Schedule, groups []string) bool {
	if s.Target.All || slices.Contains(s.Target.PCs, t.cfg.PCID) {
		return true
	}
	targeted := slices.Clone(s.Target.Groups)
	if s.Rollout != nil {
		for _, w := range s.Rollout.Waves {
			targeted = append(targeted, w.Group)
		}
	}
	for _, g := range groups {
		if slices.Contains(targeted, g) {
			return true
		}
	}
	return false
}

func (t *Ticker) job(id string) (*manifest.Job, error) {
	raw, ok := t.st.Jobs[id]
	if !ok {
		raw, ok = t.allJobs[id]
	}
	if !ok {
		return nil, errJobMissing
	}
	return manifest.ReadJob(raw)
}

// command builds what the backend's fan-out would have sent, addressed to
// this PC only. at is the tick instant (the due minute for calendars).
func (t *Ticker) command(s *manifest.Schedule, job *manifest.Job, at, now time.Time) wire.Command {
	cmd := wire.Command{
		RequestID:   uuid.NewString(),
		ExecID:      uuid.NewString(),
		JobID:       job.ID,
		Version:     job.Version,
		Shell:       job.Execute.Shell,
		Script:      job.Execute.Script,
		TimeoutSecs: int64(job.Execute.Timeout.Std().Seconds()),
		Cwd:         job.Execute.Cwd,
		Env:         job.Execute.Env,
		JitterSecs:  int64(s.Jitter.Std().Seconds()),
		IssuedAt:    now.UTC(),
		Actor:       ActorPrefix + s.ID,
		PCs:         []string{t.cfg.PCID},
	}
	if d := s.StartingDeadline.Std(); d > 0 {
		deadline := at.Add(d).UTC()
		cmd.DeadlineAt = &deadline
	}
	return cmd
}
