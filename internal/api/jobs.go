package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

func (a *API) jobRoutes() {
	a.handle("GET /api/jobs", RoleViewer, a.listJobs)
	a.handle("POST /api/jobs", RoleOperator, a.applyJob)
	a.handle("POST /api/jobs/validate", RoleViewer, a.validateJob)
	a.handle("GET /api/jobs/{id}", RoleViewer, a.getJob)
	a.handle("DELETE /api/jobs/{id}", RoleOperator, a.deleteJob)
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) error {
	values, err := a.kvAll(r.Context(), wire.BucketJobs)
	if err != nil {
		return err
	}
	jobs := make([]manifest.Job, 0, len(values))
	for key, v := range values {
		j, err := manifest.ReadJob(v)
		if err != nil {
			a.Log.Warn("corrupt job in KV; skipped", "id", key, "err", err)
			continue
		}
		jobs = append(jobs, *j)
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].ID < jobs[k].ID })
	return writeJSON(w, http.StatusOK, store.Page[manifest.Job]{Items: jobs, Total: len(jobs), Limit: len(jobs)})
}

func (a *API) applyJob(w http.ResponseWriter, r *http.Request) error {
	job, err := a.decodeJob(r)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(job)
	if err := a.kvPut(r.Context(), wire.BucketJobs, job.ID, data); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "job.apply", job.ID, job)
	return writeJSON(w, http.StatusOK, job)
}

func (a *API) validateJob(w http.ResponseWriter, r *http.Request) error {
	job, err := a.decodeJob(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"valid": true, "job": job})
}

func (a *API) decodeJob(r *http.Request) (*manifest.Job, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	job, err := manifest.DecodeJob(data)
	if err != nil {
		return nil, invalid("invalid job", err)
	}
	return job, nil
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ident.Check("id", id); err != nil {
		return badRequest("%v", err)
	}
	data, err := a.kvGet(r.Context(), wire.BucketJobs, id, "job")
	if err != nil {
		return err
	}
	job, err := manifest.ReadJob(data)
	if err != nil {
		return err
	}
	return writeDoc(w, r, job)
}

// writeDoc answers JSON, or YAML with ?format=yaml.
func writeDoc(w http.ResponseWriter, r *http.Request, v any) error {
	switch r.URL.Query().Get("format") {
	case "", "json":
		return writeJSON(w, http.StatusOK, v)
	case "yaml":
		out, err := manifest.ToYAML(v)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, err = w.Write(out)
		return err
	default:
		return badRequest("format: want json or yaml, got %q", r.URL.Query().Get("format"))
	}
}

func (a *API) deleteJob(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := ident.Check("id", id); err != nil {
		return badRequest("%v", err)
	}
	if _, err := a.kvGet(r.Context(), wire.BucketJobs, id, "job"); err != nil {
		return err
	}
	users, err := a.schedulesUsing(r, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return errStatus(http.StatusConflict, "job %q is used by schedules: %s", id, strings.Join(users, ", "))
	}
	if err := a.kvDelete(r.Context(), wire.BucketJobs, id); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "job.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// schedulesUsing names the schedules that reference a job.
func (a *API) schedulesUsing(r *http.Request, jobID string) ([]string, error) {
	values, err := a.kvAll(r.Context(), wire.BucketSchedules)
	if err != nil {
		return nil, err
	}
	var users []string
	for key, v := range values {
		s, err := manifest.ReadSchedule(v)
		if err == nil && s.JobID == jobID {
			users = append(users, key)
		}
	}
	slices.Sort(users)
	return users, nil
}
