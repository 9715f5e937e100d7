package api

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/store"
)

func (a *API) resultRoutes() {
	a.handle("GET /api/results", RoleViewer, a.listResults)
	a.handle("GET /api/results/{id}", RoleViewer, a.getResult)
}

func (a *API) listResults(w http.ResponseWriter, r *http.Request) error {
	lp, err := a.listParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.ResultFilter{PC: q.Get("pc"), JobID: q.Get("job"), ExecID: q.Get("exec"), Status: q.Get("status"),
		Since: lp.since, Limit: lp.limit, Offset: lp.offset}
	if err := checkOptionalIDs(map[string]string{"pc": f.PC, "job": f.JobID}); err != nil {
		return err
	}
	if f.ExecID != "" {
		if _, err := uuid.Parse(f.ExecID); err != nil {
			return badRequest("exec: invalid execution id %q", f.ExecID)
		}
	}
	switch f.Status {
	case "", store.ResultRunning, store.ResultSuccess, store.ResultFailure, store.ResultSkipped, store.ResultLost:
	default:
		return badRequest("status: want success, failure, running, skipped or lost, got %q", f.Status)
	}
	page, err := a.Store.ListResults(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (a *API) getResult(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return badRequest("id: invalid result id %q", id)
	}
	res, err := a.Store.GetResult(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// checkOptionalIDs validates the id-valued query parameters that are set.
func checkOptionalIDs(params map[string]string) error {
	for name, v := range params {
		if v == "" {
			continue
		}
		if err := ident.Check(name, v); err != nil {
			return badRequest("%v", err)
		}
	}
	return nil
}
