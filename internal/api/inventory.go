package api

import (
	"errors"
	"net/http"

	"github.com/kanade-dev/kanade/internal/store"
)

func (a *API) inventoryRoutes() {
	a.handle("GET /api/inventory", RoleViewer, a.searchInventory)
	a.handle("GET /api/inventory/{pc}", RoleViewer, a.getInventory)
}

func (a *API) getInventory(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	row, err := a.Store.GetInventory(r.Context(), pc)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no inventory for %q yet", pc)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, row)
}

func (a *API) searchInventory(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Get("field") == "" {
		return badRequest("field: required (a dotted fact path such as os.name)")
	}
	page, err := a.Store.SearchInventory(r.Context(), q.Get("field"), q.Get("value"), limit, offset)
	var bad *store.FilterError
	if errors.As(err, &bad) {
		return badRequest("%v", bad)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}
