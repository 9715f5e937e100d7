package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/schedule"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// ScheduleService answers the questions about a schedule that need the
// scheduler's view of the fleet (who would fire now, coverage).
type ScheduleService interface {
	// Summary adds next_fire, mode and coverage counts for list rows.
	Summary(ctx context.Context, s *manifest.Schedule) (map[string]any, error)
	Preview(ctx context.Context, s *manifest.Schedule, count int) (any, error)
	Coverage(ctx context.Context, s *manifest.Schedule) (any, error)
}

func (a *API) scheduleRoutes() {
	a.handle("GET /api/schedules", RoleViewer, a.listSchedules)
	a.handle("POST /api/schedules", RoleOperator, a.applySchedule)
	a.handle("GET /api/schedules/{id}", RoleViewer, a.getSchedule)
	a.handle("DELETE /api/schedules/{id}", RoleOperator, a.deleteSchedule)
	a.handle("POST /api/schedules/{id}/enable", RoleOperator, a.enableSchedule(true))
	a.handle("POST /api/schedules/{id}/disable", RoleOperator, a.enableSchedule(false))
	a.handle("GET /api/schedules/{id}/preview", RoleViewer, a.previewSchedule)
	a.handle("GET /api/schedules/{id}/ticks", RoleViewer, a.scheduleTicks)
	a.handle("GET /api/schedules/{id}/coverage", RoleViewer, a.scheduleCoverage)
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request) error {
	values, err := a.kvAll(r.Context(), wire.BucketSchedules)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(values))
	for key, v := range values {
		s, err := manifest.ReadSchedule(v)
		if err != nil {
			a.Log.Warn("corrupt schedule in KV; skipped", "id", key, "err", err)
			continue
		}
		items = append(items, a.scheduleRow(r.Context(), s))
	}
	sort.Slice(items, func(i, k int) bool { return items[i]["id"].(string) < items[k]["id"].(string) })
	return writeJSON(w, http.StatusOK, store.Page[map[string]any]{Items: items, Total: len(items), Limit: len(items)})
}

// scheduleRow is the schedule's JSON plus the scheduler's summary.
func (a *API) scheduleRow(ctx context.Context, s *manifest.Schedule) map[string]any {
	row := map[string]any{}
	data, _ := json.Marshal(s)
	_ = json.Unmarshal(data, &row)
	row["enabled"] = s.IsEnabled()
	if a.Schedules != nil {
		extra, err := a.Schedules.Summary(ctx, s)
		if err != nil {
			a.Log.Warn("schedule summary", "id", s.ID, "err", err)
		}
		for k, v := range extra {
			row[k] = v
		}
	}
	return row
}

func (a *API) applySchedule(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	s, err := manifest.DecodeSchedule(data)
	if err != nil {
		return invalid("invalid schedule", err)
	}
	if _, err := a.loadJob(r.Context(), s.JobID); err != nil {
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusNotFound {
			return invalid("invalid schedule", manifest.Errors{{Path: "job_id", Message: "job " + s.JobID + " does not exist"}})
		}
		return err
	}
	var warnings []string
	if l, err := schedule.Lower(s); err == nil && l.PastOneShot(a.Now()) {
		warnings = append(warnings, "one-shot time is in the past: this schedule will never fire")
		a.Log.Warn("schedule will never fire", "id", s.ID, "at", s.When.Calendar.At)
	}
	stored, _ := json.Marshal(s)
	if err := a.kvPut(r.Context(), wire.BucketSchedules, s.ID, stored); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "schedule.apply", s.ID, s)
	row := a.scheduleRow(r.Context(), s)
	if len(warnings) > 0 {
		row["warnings"] = warnings
	}
	return writeJSON(w, http.StatusOK, row)
}

func (a *API) loadSchedule(r *http.Request) (*manifest.Schedule, error) {
	id := r.PathValue("id")
	if err := ident.Check("id", id); err != nil {
		return nil, badRequest("%v", err)
	}
	data, err := a.kvGet(r.Context(), wire.BucketSchedules, id, "schedule")
	if err != nil {
		return nil, err
	}
	return manifest.ReadSchedule(data)
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request) error {
	s, err := a.loadSchedule(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "yaml" {
		return writeDoc(w, r, s)
	}
	return writeJSON(w, http.StatusOK, a.scheduleRow(r.Context(), s))
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	s, err := a.loadSchedule(r)
	if err != nil {
		return err
	}
	if err := a.kvDelete(r.Context(), wire.BucketSchedules, s.ID); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "schedule.delete", s.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) enableSchedule(on bool) func(http.ResponseWriter, *http.Request) error {
	action := map[bool]string{true: "schedule.enable", false: "schedule.disable"}[on]
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := a.loadSchedule(r)
		if err != nil {
			return err
		}
		s.Enabled = &on
		data, _ := json.Marshal(s)
		if err := a.kvPut(r.Context(), wire.BucketSchedules, s.ID, data); err != nil {
			return err
		}
		a.audit(r.Context(), actor(r), action, s.ID, nil)
		return writeJSON(w, http.StatusOK, a.scheduleRow(r.Context(), s))
	}
}

func (a *API) previewSchedule(w http.ResponseWriter, r *http.Request) error {
	s, err := a.loadSchedule(r)
	if err != nil {
		return err
	}
	count, err := intParam(r, "count", 5, 1, 100)
	if err != nil {
		return err
	}
	if a.Schedules == nil {
		return errStatus(http.StatusServiceUnavailable, "scheduler not running")
	}
	out, err := a.Schedules.Preview(r.Context(), s, count)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) scheduleTicks(w http.ResponseWriter, r *http.Request) error {
	s, err := a.loadSchedule(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	ticks, err := a.Store.ListTicks(r.Context(), s.ID, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, store.Page[store.Tick]{Items: ticks, Total: len(ticks), Limit: limit})
}

func (a *API) scheduleCoverage(w http.ResponseWriter, r *http.Request) error {
	s, err := a.loadSchedule(r)
	if err != nil {
		return err
	}
	if a.Schedules == nil {
		return errStatus(http.StatusServiceUnavailable, "scheduler not running")
	}
	out, err := a.Schedules.Coverage(r.Context(), s)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}
