package scheduler

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/schedule"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Decision-log reasons of the pipeline itself; the policy package adds
// armed, every_tick, all_done, cooling_down, in_flight and no_alive_pcs.
const (
	ReasonDormant          = "dormant"
	ReasonJobMissing       = "job_missing"
	ReasonJobUnreadable    = "job_unreadable"
	ReasonFleetUnavailable = "fleet_unavailable"
	ReasonDispatchFailed   = "dispatch_failed"
	// ReasonAlreadyFired: another replica (or an earlier poll) fired this
	// minute; never logged, since the firing tick was.
	ReasonAlreadyFired = "already_fired"
	// Preview only: the ticker does not log minutes that are not due.
	ReasonNotDue   = "not_due"
	ReasonDisabled = "disabled"
	ReasonOnAgents = "runs_on_agent"
)

// ActorPrefix + schedule id is the actor of every scheduled exec.
const ActorPrefix = "scheduler:"

// verdict is a tick's decision, filled step by step.
type verdict struct {
	at         time.Time // the tick instant (the due minute for calendars)
	action     policy.Action
	reason     string
	expected   []string
	expectedN  int
	armed      int
	suppressed int
	pcs        []string // the subset for fired_pcs
	fired      int
	execID     string
	job        *manifest.Job
	plan       manifest.Plan
}

func skip(at time.Time, reason string) verdict {
	return verdict{at: at, action: policy.Skip, reason: reason}
}

func (v *verdict) row(id string) store.Tick {
	n := v.expectedN
	if v.expected != nil {
		n = len(v.expected)
	}
	return store.Tick{
		ScheduleID: id, TickAt: v.at.UTC(), Action: string(v.action), Reason: v.reason,
		Expected: n, Armed: v.armed, Suppressed: v.suppressed, Fired: v.fired, ExecID: v.execID,
	}
}

// tick runs the whole pipeline for one schedule. ok is false when there is
// nothing to log: a calendar minute that is not due, or one already fired.
func (s *Scheduler) tick(ctx context.Context, e *entry, now time.Time) (store.Tick, bool) {
	at := now
	calendar := e.low.Mode == schedule.EveryTick
	if calendar {
		due, ok := s.dueMinute(e, now)
		if !ok {
			return store.Tick{}, false
		}
		at = due
	}
	v := s.evaluate(ctx, e, at, now, false)
	if v.action != policy.Skip {
		s.fire(ctx, e, &v)
	}
	if calendar && v.reason != ReasonDispatchFailed {
		s.setCursor(e.s.ID, at)
	}
	if v.reason == ReasonAlreadyFired {
		return store.Tick{}, false
	}
	return v.row(e.s.ID), true
}

// dueMinute finds the newest due calendar minute not yet handled, looking
// back at most CatchUp (and never before the schedule was registered).
func (s *Scheduler) dueMinute(e *entry, now time.Time) (time.Time, bool) {
	m := now.Truncate(time.Minute)
	from := m.Add(-s.cfg.CatchUp)
	if since := e.since.Truncate(time.Minute); since.After(from) {
		from = since
	}
	done := s.cursorOf(e.s.ID)
	for d := m; !d.Before(from) && d.After(done); d = d.Add(-time.Minute) {
		if e.low.Due(d) {
			return d, true
		}
	}
	return time.Time{}, false
}

func (s *Scheduler) cursorOf(id string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor[id]
}

func (s *Scheduler) setCursor(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.cursor[id]) {
		s.cursor[id] = at
	}
}

// evaluate runs steps 0–5 (cheapest first): it reads but writes nothing,
// so Preview shares it. detail asks for the expected list of calendar
// schedules too, which a real tick does not need.
func (s *Scheduler) evaluate(ctx context.Context, e *entry, at, now time.Time, detail bool) verdict {
	log := s.cfg.Log.With("schedule", e.s.ID)
	if !e.low.Active(at) {
		return skip(at, ReasonDormant)
	}
	job, err := s.cfg.Jobs.Job(ctx, e.s.JobID)
	if errors.Is(err, ErrJobMissing) {
		log.Warn("schedule's job does not exist; skipped", "job", e.s.JobID)
		return skip(at, ReasonJobMissing)
	}
	if err != nil {
		log.Error("read schedule's job", "job", e.s.JobID, "err", err)
		return skip(at, ReasonJobUnreadable)
	}
	v := verdict{at: at, job: job, plan: e.s.Plan()}
	if d := e.s.StartingDeadline.Std(); d > 0 {
		deadline := at.Add(d).UTC()
		v.plan.DeadlineAt = &deadline
	}
	if e.low.Mode == schedule.EveryTick && !detail {
		v.action, v.reason = policy.FireWhole, policy.ReasonEveryTick
		return v
	}
	if e.low.Mode == schedule.EveryTick { // a preview of who a calendar fire reaches
		expected, roster, err := s.resolve(ctx, e.s, now)
		if err != nil {
			log.Error("resolve schedule target", "err", err)
			return skip(at, ReasonFleetUnavailable)
		}
		d := policy.Decide(e.low.Mode, e.low.Cooldown, expected, roster, nil, now)
		v.expected, v.action, v.reason, v.armed, v.pcs = expected, d.Action, d.Reason, d.Armed, d.PCs
		return v
	}
	// The fleet and completions (SQLite's read pool) and the dispatch
	// marks (KV) are independent reads: overlap them. Only completions of
	// a listed target need the roster first.
	marks := s.readMarks(ctx, e)
	var completionsOf func() ([]policy.Completion, error)
	if e.s.Target.All {
		completionsOf = async(func() ([]policy.Completion, error) { return s.completions(ctx, job.ID, e.s.Target, nil) })
	}
	expected, roster, err := s.resolve(ctx, e.s, now)
	if err != nil {
		log.Error("resolve schedule target", "err", err)
		return skip(at, ReasonFleetUnavailable)
	}
	v.expected = expected
	if completionsOf == nil {
		completionsOf = func() ([]policy.Completion, error) { return s.completions(ctx, job.ID, e.s.Target, roster) }
	}
	completions, err := completionsOf()
	if err != nil {
		log.Error("read completions", "err", err)
		return skip(at, ReasonFleetUnavailable)
	}
	d := policy.Decide(e.low.Mode, e.low.Cooldown, expected, roster, completions, now)
	v.action, v.reason, v.armed, v.pcs = d.Action, d.Reason, d.Armed, d.PCs
	if d.Action == policy.Skip {
		return v
	}
	s.suppress(e, &v, d, marks(), now)
	return v
}

// markRead is the outcome of reading a schedule's dispatch marks.
type markRead struct {
	pcs    map[string]time.Time
	target *time.Time
	err    error
}

// readMarks starts reading the schedule's marks; the returned function
// waits for them. Without a marks store the answer is errNoMarks.
func (s *Scheduler) readMarks(ctx context.Context, e *entry) func() markRead {
	if s.cfg.Marks == nil {
		return func() markRead { return markRead{err: errNoMarks} }
	}
	wait := async(func() (markRead, error) {
		pcs, target, err := s.cfg.Marks.Read(ctx, e.s.ID)
		return markRead{pcs: pcs, target: target, err: err}, nil
	})
	return func() markRead {
		m, _ := wait()
		return m
	}
}

// async runs fn in its own goroutine; the returned function waits for
// its answer.
func async[T any](fn func() (T, error)) func() (T, error) {
	var v T
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err = fn()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

var errNoMarks = errors.New("no dispatch marks store")

// suppress drops what is probably still in flight. A marks failure is
// logged and ignored: over-firing beats under-firing.
func (s *Scheduler) suppress(e *entry, v *verdict, d policy.Decision, m markRead, now time.Time) {
	if errors.Is(m.err, errNoMarks) {
		return
	}
	if m.err != nil {
		s.cfg.Log.Warn("read dispatch marks; deduplicating on completions only", "schedule", e.s.ID, "err", m.err)
		return
	}
	window := policy.Window(e.s.Jitter.Std(), v.job.Execute.Timeout.Std())
	d, v.suppressed = policy.Suppress(d, m.pcs, m.target, window, now)
	v.action, v.reason, v.pcs = d.Action, d.Reason, d.PCs
}

// resolve returns the alive PCs of the target and its whole roster. A
// rollout's wave groups count as target groups, as in fan-out.
func (s *Scheduler) resolve(ctx context.Context, sched *manifest.Schedule, now time.Time) ([]string, []string, error) {
	t := sched.Target
	groups := slices.Clone(t.Groups)
	if sched.Rollout != nil {
		for _, w := range sched.Rollout.Waves {
			groups = append(groups, w.Group)
		}
	}
	expected, roster := slices.Clone(t.PCs), slices.Clone(t.PCs)
	if t.All || len(groups) > 0 {
		online, members, err := s.cfg.Fleet.TargetPCs(ctx, now, t.All, groups)
		if err != nil {
			return nil, nil, err
		}
		expected, roster = append(expected, online...), append(roster, members...)
	}
	return sortedUniq(expected), sortedUniq(roster), nil
}

func (s *Scheduler) completions(ctx context.Context, jobID string, t manifest.Target, roster []string) ([]policy.Completion, error) {
	var pcs []string // nil = every PC: cheaper than listing a whole fleet
	if !t.All {
		pcs = roster
		if len(pcs) == 0 {
			return nil, nil
		}
	}
	cs, err := s.cfg.Fleet.Completions(ctx, jobID, pcs)
	if err != nil {
		return nil, err
	}
	out := make([]policy.Completion, len(cs))
	for i, c := range cs {
		out[i] = policy.Completion{PC: c.PC, At: c.At}
	}
	return out, nil
}

// fire is step 6: claim the minute, dispatch, then mark what was accepted.
func (s *Scheduler) fire(ctx context.Context, e *entry, v *verdict) {
	log := s.cfg.Log.With("schedule", e.s.ID)
	release := func() {}
	if s.cfg.Ledger != nil {
		ok, rel, err := s.cfg.Ledger.Claim(ctx, e.s.ID, v.at.Truncate(time.Minute))
		switch {
		case err != nil:
			log.Warn("record fired minute; firing anyway", "err", err)
		case !ok:
			v.action, v.reason = policy.Skip, ReasonAlreadyFired
			return
		default:
			release = rel
		}
	}
	plan := v.plan
	if v.action == policy.FirePCs {
		plan = manifest.Plan{Target: manifest.Target{PCs: v.pcs}, Jitter: v.plan.Jitter, DeadlineAt: v.plan.DeadlineAt}
	}
	marks := s.pcMarks(ctx, e, v)
	ans, err := s.cfg.Dispatcher.Dispatch(ctx, v.job, plan, ActorPrefix+e.s.ID, marks.accepted)
	marks.wait() // even after a failure: the accepted commands are out
	if err != nil {
		release()
		log.Warn("scheduled dispatch failed; still armed", "err", err)
		v.expectedN, v.action, v.reason = len(v.expected), policy.Skip, ReasonDispatchFailed
		return
	}
	v.execID = ans.ExecID
	v.fired = ans.TargetCount
	if v.action == policy.FirePCs {
		v.fired = len(v.pcs)
	}
	if v.expected == nil {
		v.expectedN = ans.TargetCount
	}
	s.mark(context.WithoutCancel(ctx), e, v)
}

// mark writes the target mark of an accepted whole-target fire (a PC
// fire's marks went out with its acks). It runs even if the lease was
// lost meanwhile: the commands are out either way.
func (s *Scheduler) mark(ctx context.Context, e *entry, v *verdict) {
	if !s.marksOn(e) || v.action == policy.FirePCs {
		return
	}
	if err := s.cfg.Marks.WriteTarget(ctx, e.s.ID, v.at); err != nil {
		s.cfg.Log.Warn("write dispatch marks; the next ticks may re-fire", "schedule", e.s.ID, "err", err)
	}
}

func (s *Scheduler) marksOn(e *entry) bool {
	return s.cfg.Marks != nil && e.low.Mode != schedule.EveryTick
}

// markChunk is how many accepted PCs one mark write carries: small enough
// that marks start while most commands are still in flight, large enough
// that a 10 000-PC fire is a few dozen writes.
const markChunk = 256

// pcMarkWriter writes the dispatch marks of a PC fire while the fire is
// still being published: each PC is marked only once its own command has
// been accepted (SPEC §4.3 step 6), but a fleet-wide fire no longer pays
// for its marks after its commands. A nil writer does nothing.
type pcMarkWriter struct {
	s       *Scheduler
	ctx     context.Context
	sched   string
	at      time.Time
	pending []string
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

// pcMarks returns the writer for v, nil when v is not a PC fire with marks.
func (s *Scheduler) pcMarks(ctx context.Context, e *entry, v *verdict) *pcMarkWriter {
	if !s.marksOn(e) || v.action != policy.FirePCs {
		return nil
	}
	// Marks are written even if the lease is lost meanwhile: the
	// accepted commands are out either way.
	return &pcMarkWriter{s: s, ctx: context.WithoutCancel(ctx), sched: e.s.ID, at: v.at}
}

// accepted is the fanout.Accepted of the fire; the dispatcher calls it
// from one goroutine at a time.
func (w *pcMarkWriter) accepted(subject string) {
	if w == nil {
		return
	}
	pc, ok := strings.CutPrefix(subject, wire.SubjectCommandsPC(""))
	if !ok {
		return
	}
	w.pending = append(w.pending, pc)
	if len(w.pending) >= markChunk {
		w.flush()
	}
}

func (w *pcMarkWriter) flush() {
	if len(w.pending) == 0 {
		return
	}
	chunk := w.pending
	w.pending = nil
	w.wg.Go(func() {
		if err := w.s.cfg.Marks.WritePCs(w.ctx, w.sched, chunk, w.at); err != nil {
			w.mu.Lock()
			w.errs = append(w.errs, err)
			w.mu.Unlock()
		}
	})
}

// wait writes what is left and waits for every mark write.
func (w *pcMarkWriter) wait() {
	if w == nil {
		return
	}
	w.flush()
	w.wg.Wait()
	if err := errors.Join(w.errs...); err != nil {
		w.s.cfg.Log.Warn("write dispatch marks; the next ticks may re-fire", "schedule", w.sched, "err", err)
	}
}

func sortedUniq(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
