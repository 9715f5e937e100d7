package scheduler

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/store"
)

const (
	fired     = string(policy.FirePCs)
	firedAll  = string(policy.FireWhole)
	skipped   = string(policy.Skip)
	minute    = time.Minute
	jobTimout = time.Minute // window = 0 + 1m + 90s = 2m30s
)

func TestPerPCOnceFiresEachPCOnceAndLateJoinerOnce(t *testing.T) {
	e := newEnv(t)
	e.putJob("cleanup", "1", jobTimout)
	e.putSchedule("id: s\njob_id: cleanup\nwhen: {per_pc: once}\ntarget: {all: true}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)

	e.beat("a", "b", "c")
	row := e.only(e.tickAt(s, t0), "s")
	expectRow(t, row, fired, policy.ReasonArmed)
	if row.Expected != 3 || row.Armed != 3 || row.Fired != 3 || row.ExecID == "" {
		t.Fatalf("first tick counts: %+v", row)
	}
	// Runs finish within the in-flight window; ticks keep coming.
	e.finish("cleanup", "a", t0.Add(30*time.Second), 0)
	e.finish("cleanup", "b", t0.Add(40*time.Second), 0)
	e.finish("cleanup", "c", t0.Add(50*time.Second), 0)
	for i := 1; i <= 10; i++ {
		now := t0.Add(time.Duration(i) * minute)
		e.beat("a", "b", "c")
		expectRow(t, e.only(e.tickAt(s, now), "s"), skipped, policy.ReasonAllDone)
	}
	// A new PC joins later: it gets the job once, the others do not.
	now := t0.Add(11 * minute)
	e.clk.Set(now)
	e.beat("a", "b", "c", "d")
	row = e.only(e.tickAt(s, now), "s")
	expectRow(t, row, fired, policy.ReasonArmed)
	if row.Expected != 4 || row.Fired != 1 {
		t.Fatalf("late joiner counts: %+v", row)
	}
	e.finish("cleanup", "d", now.Add(20*time.Second), 0)
	for i := 12; i <= 20; i++ {
		now := t0.Add(time.Duration(i) * minute)
		e.beat("a", "b", "c", "d")
		e.tickAt(s, now)
	}
	want := map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}
	if got := e.rec.pcsFired(); !maps.Equal(got, want) {
		t.Fatalf("dispatches per PC = %v, want %v", got, want)
	}
	for _, d := range e.rec.all() {
		if d.Actor != "scheduler:s" || d.Plan.Rollout != nil || d.Plan.Target.All {
			t.Fatalf("bad dispatch %+v", d)
		}
	}
	ticks, err := e.st.ListTicks(e.ctx, "s", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) != 21 {
		t.Fatalf("decision log has %d rows, want 21", len(ticks))
	}
}

func TestPerPCEveryRefiresAfterCooldownNotBefore(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: {every: 1h}}\ntarget: {pcs: [a]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)

	expectRow(t, e.only(e.tickAt(s, t0), "s"), fired, policy.ReasonArmed)
	done := t0.Add(minute)
	e.finish("j", "a", done, 0)
	for now := t0.Add(2 * minute); now.Before(done.Add(time.Hour)); now = now.Add(7 * minute) {
		expectRow(t, e.only(e.tickAt(s, now), "s"), skipped, policy.ReasonCoolingDown)
	}
	// The boundary itself re-arms.
	expectRow(t, e.only(e.tickAt(s, done.Add(time.Hour)), "s"), fired, policy.ReasonArmed)
	if n := len(e.rec.all()); n != 2 {
		t.Fatalf("%d dispatches, want 2", n)
	}
}

func TestPerTargetOnceUntilOneSucceeds(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_target: once}\ntarget: {groups: [office]}\njitter: 1m\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	for _, pc := range []string{"a", "b"} {
		if err := e.st.SetAgentGroups(e.ctx, pc, []string{"office"}); err != nil {
			t.Fatal(err)
		}
	}
	e.beat("a", "b")
	row := e.only(e.tickAt(s, t0), "s")
	expectRow(t, row, firedAll, policy.ReasonArmed)
	d := e.rec.all()[0]
	if !slices.Equal(d.Plan.Target.Groups, []string{"office"}) || d.Plan.Jitter.Std() != minute {
		t.Fatalf("whole-target fire must dispatch the plan as is: %+v", d.Plan)
	}
	// a fails: the target stays armed but the dispatch is in flight for
	// window = 1m jitter + 1m timeout + 90s = 3m30s.
	e.finish("j", "a", t0.Add(minute), 1)
	e.beat("a", "b")
	row = e.only(e.tickAt(s, t0.Add(2*minute)), "s")
	expectRow(t, row, skipped, policy.ReasonInFlight)
	if row.Suppressed != 1 {
		t.Fatalf("suppressed = %d, want 1", row.Suppressed)
	}
	e.beat("a", "b")
	expectRow(t, e.only(e.tickAt(s, t0.Add(3*minute+30*time.Second)), "s"), firedAll, policy.ReasonArmed)
	// b succeeds: never again, even after any window.
	e.finish("j", "b", t0.Add(4*minute), 0)
	for i := 5; i < 60; i += 5 {
		now := t0.Add(time.Duration(i) * minute)
		e.clk.Set(now)
		e.beat("a", "b")
		expectRow(t, e.only(e.tickAt(s, now), "s"), skipped, policy.ReasonAllDone)
	}
	if n := len(e.rec.all()); n != 2 {
		t.Fatalf("%d dispatches, want 2", n)
	}
}

func TestInFlightSuppressionRefiresExactlyOneWindowLater(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a, b]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)

	expectRow(t, e.only(e.tickAt(s, t0), "s"), fired, policy.ReasonArmed)
	for _, at := range []time.Duration{minute, 2 * minute, 2*minute + 29*time.Second} {
		row := e.only(e.tickAt(s, t0.Add(at)), "s")
		expectRow(t, row, skipped, policy.ReasonInFlight)
		if row.Armed != 2 || row.Suppressed != 2 {
			t.Fatalf("counts at +%v: %+v", at, row)
		}
	}
	// b finished meanwhile; a never answered: only a re-fires, at t0+2m30s.
	e.finish("j", "b", t0.Add(minute), 0)
	row := e.only(e.tickAt(s, t0.Add(2*minute+30*time.Second)), "s")
	expectRow(t, row, fired, policy.ReasonArmed)
	if got := e.rec.all()[1].Targets; !slices.Equal(got, []string{"a"}) {
		t.Fatalf("re-fire targets %v, want [a]", got)
	}
}

func TestCalendarFiresAtItsMinuteInItsZoneWithDeadline(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: cal\njob_id: j\nwhen: {calendar: {at: \"09:00\"}}\ntz: Asia/Tokyo\ntarget: {all: true}\nstarting_deadline: 30m\n")
	s := e.scheduler()
	e.waitRegistered(s, "cal", registered)

	fireAt := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC) // 09:00 JST
	var rows []store.Tick
	for now := fireAt.Add(-5 * minute); !now.After(fireAt.Add(5 * minute)); now = now.Add(minute) {
		rows = append(rows, e.tickAt(s, now)...)
	}
	if len(rows) != 1 {
		t.Fatalf("calendar logs only its due minute; got %+v", rows)
	}
	expectRow(t, rows[0], firedAll, policy.ReasonEveryTick)
	if !rows[0].TickAt.Equal(fireAt) {
		t.Fatalf("tick_at %v, want %v", rows[0].TickAt, fireAt)
	}
	calls := e.rec.all()
	if len(calls) != 1 || !calls[0].Minute.Equal(fireAt) || !calls[0].Plan.Target.All {
		t.Fatalf("dispatches %+v", calls)
	}
	if dl := calls[0].Plan.DeadlineAt; dl == nil || !dl.Equal(fireAt.Add(30*minute)) {
		t.Fatalf("deadline_at = %v, want %v", dl, fireAt.Add(30*minute))
	}
	// Next day, same minute: fires again.
	rows = e.tickAt(s, fireAt.Add(24*time.Hour))
	expectRow(t, e.only(rows, "cal"), firedAll, policy.ReasonEveryTick)
}

func TestCalendarMinuteMissedIsCaughtUpOnceWithinGrace(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: cal\njob_id: j\nwhen: {calendar: {at: \"09:00\"}}\ntz: utc\ntarget: {pcs: [a]}\n")
	e.putSchedule("id: late\njob_id: j\nwhen: {calendar: {at: \"10:00\"}}\ntz: utc\ntarget: {pcs: [a]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "late", registered)

	nine := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	row := e.only(e.tickAt(s, nine.Add(90*time.Second)), "cal")
	expectRow(t, row, firedAll, policy.ReasonEveryTick)
	if !row.TickAt.Equal(nine) {
		t.Fatalf("caught-up tick_at %v, want %v", row.TickAt, nine)
	}
	if rows := e.tickAt(s, nine.Add(2*minute)); len(rows) != 0 {
		t.Fatalf("caught-up minute fired again: %+v", rows)
	}
	// Beyond the grace a missed minute stays missed.
	if rows := e.tickAt(s, nine.Add(time.Hour+3*minute)); len(rows) != 0 {
		t.Fatalf("minute older than the grace fired: %+v", rows)
	}
}

func TestDormantOutsideActiveReadsNothing(t *testing.T) {
	e := newEnv(t)
	// No job at all: a dormant tick must not even look for it.
	e.putSchedule("id: s\njob_id: nope\nwhen: {per_pc: once}\ntarget: {pcs: [a]}\ntz: utc\nactive: {from: \"2027-01-01\"}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	expectRow(t, e.only(e.tickAt(s, t0), "s"), skipped, ReasonDormant)
	// Inside the window the missing job shows.
	expectRow(t, e.only(e.tickAt(s, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), "s"), skipped, ReasonJobMissing)
	if n := len(e.rec.all()); n != 0 {
		t.Fatalf("%d dispatches, want 0", n)
	}
}

func TestKVEditsDisableAndDeleteTakeEffectNextTick(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a]}\n")
	e.putSchedule("id: onagent\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a]}\nruns_on: agent\n")
	if _, err := e.scheds.Put(e.ctx, "corrupt", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	if got := s.Registered(); !slices.Equal(got, []string{"s"}) {
		t.Fatalf("registered %v; runs_on agent and corrupt values must not be", got)
	}
	e.tickAt(s, t0)

	// Edit: a new PC in the target is fired on the next tick.
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a, b]}\n")
	e.waitRegistered(s, "s", func(en *entry) bool { return en != nil && len(en.s.Target.PCs) == 2 })
	e.tickAt(s, t0.Add(minute))
	if got := e.rec.all()[1].Targets; !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after edit fired %v, want [b]", got)
	}

	// Disable: not registered, no row.
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a, b, c]}\nenabled: false\n")
	e.waitRegistered(s, "s", unregistered)
	if rows := e.tickAt(s, t0.Add(2*minute)); len(rows) != 0 {
		t.Fatalf("disabled schedule ticked: %+v", rows)
	}
	// Re-enable, then delete; a and b are done by then.
	e.finish("j", "a", t0.Add(2*minute), 0)
	e.finish("j", "b", t0.Add(2*minute), 0)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a, b, c]}\n")
	e.waitRegistered(s, "s", registered)
	e.tickAt(s, t0.Add(3*minute))
	if err := e.scheds.Delete(e.ctx, "s"); err != nil {
		t.Fatal(err)
	}
	e.waitRegistered(s, "s", unregistered)
	if rows := e.tickAt(s, t0.Add(10*minute)); len(rows) != 0 {
		t.Fatalf("deleted schedule ticked: %+v", rows)
	}
	if got := e.rec.pcsFired(); !maps.Equal(got, map[string]int{"a": 1, "b": 1, "c": 1}) {
		t.Fatalf("fired %v", got)
	}
}

func TestJobEditsArePickedUpAtTheNextTick(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: {every: 10m}}\ntarget: {pcs: [a]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	e.tickAt(s, t0)
	e.putJob("j", "2", jobTimout)
	e.tickAt(s, t0.Add(3*minute)) // window passed, no completion: re-fire
	calls := e.rec.all()
	if len(calls) != 2 || calls[0].JobVer != "1" || calls[1].JobVer != "2" {
		t.Fatalf("versions dispatched: %+v", calls)
	}
	// The job is deleted: skip with job_missing.
	if err := e.jobs.Delete(e.ctx, "j"); err != nil {
		t.Fatal(err)
	}
	expectRow(t, e.only(e.tickAt(s, t0.Add(10*minute)), "s"), skipped, ReasonJobMissing)
}

func TestFailedDispatchLeavesScheduleArmed(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a]}\n")
	e.putSchedule("id: cal\njob_id: j\nwhen: {calendar: {at: \"08:00\"}}\ntz: utc\ntarget: {pcs: [a]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "cal", registered)
	e.rec.setFail(true)
	rows := e.tickAt(s, t0)
	expectRow(t, e.only(rows, "s"), skipped, ReasonDispatchFailed)
	expectRow(t, e.only(rows, "cal"), skipped, ReasonDispatchFailed)
	e.rec.setFail(false)
	// No mark was written, and the calendar minute is retried in its grace.
	rows = e.tickAt(s, t0.Add(minute))
	expectRow(t, e.only(rows, "s"), fired, policy.ReasonArmed)
	expectRow(t, e.only(rows, "cal"), firedAll, policy.ReasonEveryTick)
}

// A publication that breaks half-way leaves the schedule armed, but the
// PCs whose commands were accepted are marked: the next tick fires only
// the others, and the accepted ones once their window has passed.
func TestPartlyAcceptedFireMarksOnlyTheAcceptedPCs(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {pcs: [a, b, c, d]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	e.rec.mu.Lock()
	e.rec.fail, e.rec.acceptFirst = true, 2 // a and b go out, then the broker fails
	e.rec.mu.Unlock()
	expectRow(t, e.only(e.tickAt(s, t0), "s"), skipped, ReasonDispatchFailed)
	e.rec.setFail(false)
	row := e.only(e.tickAt(s, t0.Add(minute)), "s")
	expectRow(t, row, fired, policy.ReasonArmed)
	if row.Suppressed != 2 || row.Fired != 2 {
		t.Fatalf("after a half-accepted fire: %+v", row)
	}
	if got := e.rec.all(); len(got) != 1 || !slices.Equal(got[0].Targets, []string{"c", "d"}) {
		t.Fatalf("dispatches %+v, want one to [c d]", got)
	}
	// a and b were never completed: one window (2m30s) after their
	// dispatch they are due again; c and d are still in flight.
	row = e.only(e.tickAt(s, t0.Add(3*minute)), "s")
	if got := e.rec.all(); row.Fired != 2 || !slices.Equal(got[len(got)-1].Targets, []string{"a", "b"}) {
		t.Fatalf("one window later: %+v, dispatches %+v", row, got)
	}
}

func TestDecisionLogIsBounded(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {groups: [empty]}\n")
	s := e.scheduler()
	e.waitRegistered(s, "s", registered)
	for i := range 60 {
		expectRow(t, e.only(e.tickAt(s, t0.Add(time.Duration(i)*minute)), "s"), skipped, policy.ReasonNoAlivePCs)
	}
	ticks, err := e.st.ListTicks(e.ctx, "s", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ticks) != 50 {
		t.Fatalf("kept %d rows, want 50", len(ticks))
	}
}
