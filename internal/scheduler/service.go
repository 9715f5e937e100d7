package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/policy"
	"github.com/kanade-dev/kanade/internal/schedule"
	"github.com/kanade-dev/kanade/internal/store"
)

// Coverage states of a roster PC.
const (
	CoverageOK      = "ok"
	CoverageFailed  = "failed"
	CoverageRunning = "running"
	CoveragePending = "pending"
)

// WouldFire is the dry run of one tick at the time of the preview.
type WouldFire struct {
	Action     string   `json:"action"`
	Reason     string   `json:"reason"`
	PCs        []string `json:"pcs"`
	Expected   int      `json:"expected"`
	Armed      int      `json:"armed"`
	Suppressed int      `json:"suppressed"`
	DeadlineAt *string  `json:"deadline_at,omitempty"`
}

// PreviewAnswer is GET /api/schedules/{id}/preview.
type PreviewAnswer struct {
	Next      []string  `json:"next"`
	WouldFire WouldFire `json:"would_fire"`
}

// CoverageItem is one roster PC's standing.
type CoverageItem struct {
	PCID       string     `json:"pc_id"`
	State      string     `json:"state"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	ExecID     string     `json:"exec_id,omitempty"`
	ExitCode   *int       `json:"exit_code,omitempty"`
}

// CoverageAnswer is GET /api/schedules/{id}/coverage.
type CoverageAnswer struct {
	Items  []CoverageItem `json:"items"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

// Summary adds mode, next_fire (calendar shapes), dormant, registered and
// coverage counts to a schedule list row.
func (s *Scheduler) Summary(ctx context.Context, sc *manifest.Schedule) (map[string]any, error) {
	low, err := schedule.Lower(sc)
	if err != nil {
		return map[string]any{"mode": nil, "next_fire": nil}, fmt.Errorf("lower schedule %s: %w", sc.ID, err)
	}
	now := s.cfg.Clock.Now()
	out := map[string]any{
		"mode":       string(low.Mode),
		"next_fire":  nil,
		"dormant":    !low.Active(now),
		"registered": s.isRegistered(sc.ID),
	}
	if low.Mode == schedule.EveryTick {
		if next := low.Next(now, 1); len(next) > 0 {
			out["next_fire"] = rfc3339(next[0])
		}
	}
	cov, err := s.coverage(ctx, sc)
	if err != nil {
		return out, err
	}
	out["coverage"] = cov.Counts
	return out, nil
}

// rfc3339 is the API's rendering of an instant: UTC, whole seconds.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Scheduler) isRegistered(id string) bool {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	return s.reg.entries[id] != nil
}

// Preview lists the next count fire instants (calendar shapes) and dry
// runs steps 0–5 of a tick now: nothing is dispatched, no mark written.
func (s *Scheduler) Preview(ctx context.Context, sc *manifest.Schedule, count int) (any, error) {
	low, err := schedule.Lower(sc)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	ans := PreviewAnswer{Next: []string{}}
	if low.Mode == schedule.EveryTick {
		for _, t := range low.Next(now.Add(-time.Minute), count) {
			ans.Next = append(ans.Next, rfc3339(t))
		}
	}
	ans.WouldFire = s.dryRun(ctx, sc, low, now)
	return ans, nil
}

func (s *Scheduler) dryRun(ctx context.Context, sc *manifest.Schedule, low *schedule.Lowered, now time.Time) WouldFire {
	at := now
	if low.Mode == schedule.EveryTick {
		at = now.Truncate(time.Minute)
	}
	v := s.evaluate(ctx, &entry{s: sc, low: low}, at, now, true)
	switch {
	case !sc.IsEnabled():
		v.action, v.reason = policy.Skip, ReasonDisabled
	case low.Mode == schedule.EveryTick && v.action == policy.FireWhole && !low.Due(at):
		v.action, v.reason = policy.Skip, ReasonNotDue
	}
	w := WouldFire{
		Action: string(v.action), Reason: v.reason, PCs: []string{},
		Expected: len(v.expected), Armed: v.armed, Suppressed: v.suppressed,
	}
	switch v.action {
	case policy.FirePCs:
		w.PCs = v.pcs
	case policy.FireWhole:
		w.PCs = append(w.PCs, v.expected...)
	}
	if v.plan.DeadlineAt != nil && v.action != policy.Skip {
		d := rfc3339(*v.plan.DeadlineAt)
		w.DeadlineAt = &d
	}
	if sc.RunsOn == "agent" && v.action != policy.Skip {
		// Agents decide on their own completion history; the backend's
		// view is the closest approximation it has.
		w.Reason += " (runs_on agent: each agent decides locally)"
	}
	return w
}

// Coverage reports every roster PC of the schedule as ok, failed, running
// or pending, from its newest result of the schedule's job.
func (s *Scheduler) Coverage(ctx context.Context, sc *manifest.Schedule) (any, error) {
	return s.coverage(ctx, sc)
}

func (s *Scheduler) coverage(ctx context.Context, sc *manifest.Schedule) (CoverageAnswer, error) {
	ans := CoverageAnswer{Items: []CoverageItem{}, Counts: map[string]int{
		CoverageOK: 0, CoverageFailed: 0, CoverageRunning: 0, CoveragePending: 0,
	}}
	_, roster, err := s.resolve(ctx, sc, s.cfg.Clock.Now())
	if err != nil {
		return ans, fmt.Errorf("coverage of %s: %w", sc.ID, err)
	}
	latest := map[string]store.Result{}
	if s.cfg.Results != nil && len(roster) > 0 {
		rs, err := s.cfg.Results.LatestResults(ctx, sc.JobID, roster)
		if err != nil {
			return ans, fmt.Errorf("coverage of %s: %w", sc.ID, err)
		}
		for _, r := range rs {
			latest[r.PCID] = r
		}
	}
	for _, pc := range roster {
		item := coverageItem(pc, latest[pc])
		ans.Items = append(ans.Items, item)
		ans.Counts[item.State]++
	}
	ans.Total = len(ans.Items)
	return ans, nil
}

func coverageItem(pc string, r store.Result) CoverageItem {
	item := CoverageItem{PCID: pc, State: CoveragePending}
	if r.ResultID == "" {
		return item
	}
	item.ExecID, item.FinishedAt, item.ExitCode = r.ExecID, r.FinishedAt, r.ExitCode
	switch r.Status {
	case store.ResultSuccess:
		item.State = CoverageOK
	case store.ResultRunning:
		item.State = CoverageRunning
	case store.ResultFailure, store.ResultLost:
		item.State = CoverageFailed
	}
	// skipped (e.g. deadline passed) never ran: still pending.
	return item
}

// StoreResults adapts *store.Store to Results by paging the job's results
// newest first until every asked PC is seen. It is a stop-gap until the
// store has a one-query "newest result per PC of a job".
type StoreResults struct {
	Store interface {
		ListResults(ctx context.Context, f store.ResultFilter) (store.Page[store.Result], error)
	}
	MaxRows int // default 20 000
}

func (r StoreResults) LatestResults(ctx context.Context, jobID string, pcs []string) ([]store.Result, error) {
	want := make(map[string]bool, len(pcs))
	for _, pc := range pcs {
		want[pc] = true
	}
	maxRows := r.MaxRows
	if maxRows <= 0 {
		maxRows = 20000
	}
	var out []store.Result
	for offset := 0; offset < maxRows && len(want) > 0; offset += store.MaxLimit {
		page, err := r.Store.ListResults(ctx, store.ResultFilter{JobID: jobID, Limit: store.MaxLimit, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, x := range page.Items {
			if want[x.PCID] {
				delete(want, x.PCID)
				out = append(out, x)
			}
		}
		if len(page.Items) < store.MaxLimit {
			break
		}
	}
	return out, nil
}
