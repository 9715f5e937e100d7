package api

import (
	"net/http"

	"github.com/kanade-dev/kanade/internal/store"
)

func (a *API) auditRoutes() {
	a.handle("GET /api/audit", RoleViewer, a.listAudit)
	a.handle("GET /api/dead-letters", RoleViewer, a.listDeadLetters)
}

// listDeadLetters shows the broker messages the projectors could not read.
func (a *API) listDeadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	page, err := a.Store.ListDeadLetters(r.Context(), limit, offset)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	lp, err := a.listParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := a.Store.ListAudit(r.Context(), store.AuditFilter{
		Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Since: lp.since,
		Limit: lp.limit, Offset: lp.offset,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}
