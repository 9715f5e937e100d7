package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

func (a *API) execRoutes() {
	a.handle("POST /api/exec/{job_id}", RoleOperator, a.exec)
	a.handle("POST /api/run", RoleOperator, a.run)
	a.handle("POST /api/executions/{id}/kill", RoleOperator, a.kill)
}

func (a *API) exec(w http.ResponseWriter, r *http.Request) error {
	jobID := r.PathValue("job_id")
	if err := ident.Check("job_id", jobID); err != nil {
		return badRequest("%v", err)
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	plan, err := manifest.DecodePlan(data)
	if err != nil {
		return invalid("invalid plan", err)
	}
	job, err := a.loadJob(r.Context(), jobID)
	if err != nil {
		return err
	}
	ans, err := a.Fanout.Exec(r.Context(), job, *plan, actor(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}

func (a *API) loadJob(ctx context.Context, id string) (*manifest.Job, error) {
	data, err := a.kvGet(ctx, wire.BucketJobs, id, "job")
	if err != nil {
		return nil, err
	}
	return manifest.ReadJob(data)
}

// runRequest is the body of POST /api/run: an ad-hoc script for one PC.
type runRequest struct {
	PC      string            `json:"pc"`
	Shell   string            `json:"shell"`
	Script  string            `json:"script"`
	Timeout manifest.Duration `json:"timeout"`
	Cwd     string            `json:"cwd,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// adhocJobID names ad-hoc runs in executions and results.
const adhocJobID = "adhoc"

func (a *API) run(w http.ResponseWriter, r *http.Request) error {
	var req runRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Shell == "" {
		req.Shell = "sh"
	}
	if req.Timeout == 0 {
		req.Timeout = manifest.Duration(time.Minute)
	}
	job := &manifest.Job{ID: adhocJobID, Version: "adhoc", Execute: manifest.Execute{
		Shell: req.Shell, Script: req.Script, Timeout: req.Timeout, Cwd: req.Cwd, Env: req.Env,
	}}
	var errs manifest.Errors
	if err := ident.Check("pc", req.PC); err != nil {
		errs = append(errs, manifest.FieldError{Path: "pc", Message: err.Error()})
	}
	if err := manifest.ValidateJob(job); err != nil {
		var fe manifest.Errors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
		}
	}
	if len(errs) > 0 {
		return invalid("invalid run", errs)
	}
	plan := manifest.Plan{Target: manifest.Target{PCs: []string{req.PC}}}
	ans, err := a.Fanout.Exec(r.Context(), job, plan, actor(r))
	if err != nil {
		return err
	}
	res, err := a.waitResult(r.Context(), ans.ExecID, req.Timeout.Std()+30*time.Second)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// waitResult waits until the execution has a finished result.
func (a *API) waitResult(ctx context.Context, execID string, wait time.Duration) (*store.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	changed, unsubscribe := a.Projector.Subscribe(execID)
	defer unsubscribe()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		rows, err := a.Store.ExecutionResults(ctx, execID)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		for i := range rows {
			if s := rows[i].Status; s != store.ResultPending && s != store.ResultRunning {
				// Detail rows carry no output; the answer needs all of it.
				full, err := a.Store.GetResult(ctx, rows[i].ResultID)
				return &full, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, errStatus(http.StatusGatewayTimeout, "no result for exec %s within %v (is the PC online?)", execID, wait)
		case <-changed:
		case <-tick.C:
		}
	}
}

func (a *API) kill(w http.ResponseWriter, r *http.Request) error {
	id, err := execIDParam(r)
	if err != nil {
		return err
	}
	if _, err := a.Store.GetExecution(r.Context(), id); err != nil {
		return err
	}
	if err := a.NC.Publish(wire.SubjectKill(id), nil); err != nil {
		return fmt.Errorf("%w: publish kill: %v", fanout.ErrUnavailable, err)
	}
	if err := a.NC.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("%w: flush kill: %v", fanout.ErrUnavailable, err)
	}
	a.audit(r.Context(), actor(r), "kill", id, nil)
	return writeJSON(w, http.StatusAccepted, map[string]string{"exec_id": id, "status": "kill sent"})
}

// execIDParam validates an exec id: they are UUIDs, so anything else is a
// client mistake and never reaches a subject.
func execIDParam(r *http.Request) (string, error) {
	id := r.PathValue("id")
	u, err := uuid.Parse(id)
	if err != nil {
		return "", badRequest("id: invalid execution id %q", id)
	}
	return u.String(), nil
}
