package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

func TestPreviewIsADryRunOfEveryShape(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	perPC := e.putSchedule("id: p\njob_id: j\nwhen: {per_pc: once}\ntarget: {all: true}\nstarting_deadline: 10m\n")
	cal := e.putSchedule("id: c\njob_id: j\nwhen: {calendar: {at: \"09:00\", days: [mon-fri]}}\ntz: Asia/Tokyo\ntarget: {all: true}\n")
	s := e.scheduler()
	e.beat("a", "b", "c")
	e.finish("j", "a", t0.Add(-time.Hour), 0)

	got, err := s.Preview(e.ctx, perPC, 3)
	if err != nil {
		t.Fatal(err)
	}
	p := got.(PreviewAnswer)
	w := p.WouldFire
	if w.Action != string(policy.FirePCs) || !slices.Equal(w.PCs, []string{"b", "c"}) || w.Expected != 3 || w.Armed != 2 {
		t.Fatalf("per_pc preview %+v", w)
	}
	if w.DeadlineAt == nil || *w.DeadlineAt != t0.Add(10*time.Minute).Format(time.RFC3339) {
		t.Fatalf("deadline %v", w.DeadlineAt)
	}
	if len(p.Next) != 0 {
		t.Fatalf("per_pc has no calendar fire times: %v", p.Next)
	}
	// A dry run writes nothing: a real tick still fires both.
	row := e.only(s.TickAll(e.ctx, t0), "p")
	if row.Fired != 2 || row.Suppressed != 0 {
		t.Fatalf("tick after preview: %+v", row)
	}
	// Now both are in flight; the preview says so.
	w = mustPreview(t, s, perPC).WouldFire
	if w.Action != string(policy.Skip) || w.Reason != policy.ReasonInFlight || w.Suppressed != 2 {
		t.Fatalf("preview in flight %+v", w)
	}

	// Calendar: next fires in its zone, weekdays only; not due right now.
	p = mustPreview(t, s, cal)
	want := []string{"2026-12-04T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"}
	if !slices.Equal(p.Next, want) {
		t.Fatalf("next %v, want %v", p.Next, want)
	}
	if p.WouldFire.Action != string(policy.Skip) || p.WouldFire.Reason != ReasonNotDue {
		t.Fatalf("calendar would fire %+v", p.WouldFire)
	}
	e.clk.Set(time.Date(2026, 12, 4, 0, 0, 30, 0, time.UTC))
	e.beat("a", "b", "c")
	if w := mustPreview(t, s, cal).WouldFire; w.Action != string(policy.FireWhole) || len(w.PCs) != 3 {
		t.Fatalf("calendar at its minute %+v", w)
	}
}

func mustPreview(t *testing.T, s *Scheduler, sc *manifest.Schedule) PreviewAnswer {
	t.Helper()
	got, err := s.Preview(t.Context(), sc, 3)
	if err != nil {
		t.Fatal(err)
	}
	return got.(PreviewAnswer)
}

func TestCoverageAndSummary(t *testing.T) {
	e := newEnv(t)
	e.putJob("j", "1", jobTimout)
	sc := e.putSchedule("id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {groups: [g], pcs: [z]}\n")
	s := e.scheduler()
	for _, pc := range []string{"a", "b", "c", "d"} {
		if err := e.st.SetAgentGroups(e.ctx, pc, []string{"g"}); err != nil {
			t.Fatal(err)
		}
	}
	e.finish("j", "a", t0, 0)
	e.finish("j", "b", t0, 0)
	e.finish("j", "b", t0.Add(time.Minute), 2) // the newest result counts
	e.finish("other", "d", t0, 0)              // another job's result does not
	started := wire.Started{ResultID: uuid.NewString(), RequestID: uuid.NewString(), ExecID: uuid.NewString(),
		JobID: "j", PCID: "c", StartedAt: t0}
	if _, err := e.st.Apply(e.ctx, &store.Batch{Started: []store.StartedMsg{{Started: started, RecordedAt: t0.Add(time.Minute),
		LostAfter: t0.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Coverage(e.ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	c := got.(CoverageAnswer)
	states := map[string]string{}
	for _, it := range c.Items {
		states[it.PCID] = it.State
	}
	want := map[string]string{"a": CoverageOK, "b": CoverageFailed, "c": CoverageRunning, "d": CoveragePending, "z": CoveragePending}
	if fmt.Sprint(states) != fmt.Sprint(want) || c.Total != 5 {
		t.Fatalf("coverage %+v, want %v", c, want)
	}
	if c.Counts[CoverageOK] != 1 || c.Counts[CoveragePending] != 2 {
		t.Fatalf("counts %v", c.Counts)
	}
	sum, err := s.Summary(e.ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if sum["mode"] != "once_per_pc" || sum["next_fire"] != nil || fmt.Sprint(sum["coverage"]) != fmt.Sprint(c.Counts) {
		t.Fatalf("summary %v", sum)
	}
}

func TestMarksAreReadAndWrittenInBulk(t *testing.T) {
	e := newEnv(t)
	kv, err := e.b.JS.KeyValue(e.ctx, wire.BucketDispatch)
	if err != nil {
		t.Fatal(err)
	}
	m := &MarksKV{JS: e.b.JS, KV: kv}
	pcs := make([]string, 3000)
	for i := range pcs {
		pcs[i] = fmt.Sprintf("pc-%04d", i)
	}
	start := time.Now()
	if err := m.WritePCs(e.ctx, "fleet", pcs, t0); err != nil {
		t.Fatal(err)
	}
	if err := m.WritePCs(e.ctx, "fleet-other", pcs[:10], t0); err != nil {
		t.Fatal(err)
	}
	got, target, err := m.Read(e.ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3000 marks written and read back in %v", time.Since(start))
	if len(got) != 3000 || target != nil || !got["pc-2999"].Equal(t0) {
		t.Fatalf("read %d marks, target %v", len(got), target)
	}
	// A newer batch wins for the PCs it names, whatever the order read;
	// an unreadable batch counts as no mark.
	if err := m.WritePCs(e.ctx, "fleet", pcs[:2], t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.WritePCs(e.ctx, "fleet", pcs[1:3], t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(e.ctx, policy.MarkKeyPCs("fleet", "garbled"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	got, _, err = m.Read(e.ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	for pc, want := range map[string]time.Time{pcs[0]: t0.Add(time.Minute), pcs[1]: t0.Add(time.Minute), pcs[2]: t0, pcs[3]: t0} {
		if !got[pc].Equal(want) {
			t.Fatalf("mark of %s = %v, want %v", pc, got[pc], want)
		}
	}
	// That second read resumed from the first; a replica reading from
	// scratch must see the same marks.
	fresh, _, err := (&MarksKV{JS: e.b.JS, KV: kv}).Read(e.ctx, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, fresh, time.Time.Equal) {
		t.Fatalf("resumed read (%d marks) and fresh read (%d marks) differ", len(got), len(fresh))
	}
	if err := m.WriteTarget(e.ctx, "fleet", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, target, _ = m.Read(e.ctx, "fleet"); target == nil || !target.Equal(t0.Add(time.Minute)) {
		t.Fatalf("target mark %v", target)
	}
}

func TestLedgerClaimsAMinuteOnce(t *testing.T) {
	e := newEnv(t)
	kv, err := e.b.JS.KeyValue(e.ctx, wire.BucketDispatch)
	if err != nil {
		t.Fatal(err)
	}
	l := LedgerKV{KV: kv}
	claim := func(at time.Time) (bool, func()) {
		ok, rel, err := l.Claim(e.ctx, "s", at)
		if err != nil {
			t.Fatal(err)
		}
		return ok, rel
	}
	if ok, _ := claim(t0); !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := claim(t0); ok {
		t.Fatal("same minute claimed twice")
	}
	if ok, _ := claim(t0.Add(-time.Minute)); ok {
		t.Fatal("older minute claimed after a newer one")
	}
	ok, release := claim(t0.Add(time.Minute))
	if !ok {
		t.Fatal("next minute refused")
	}
	release() // the dispatch failed: the minute is claimable again
	if ok, _ := claim(t0.Add(time.Minute)); !ok {
		t.Fatal("released minute not claimable")
	}
}
