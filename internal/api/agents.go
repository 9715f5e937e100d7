package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/store"
)

func (a *API) agentRoutes() {
	a.handle("GET /api/agents", RoleViewer, a.listAgents)
	a.handle("GET /api/agents/{pc}", RoleViewer, a.getAgent)
	a.handle("DELETE /api/agents/{pc}", RoleOperator, a.deleteAgent)
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := paging(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.AgentFilter{Q: q.Get("q"), Group: q.Get("group"), Status: q.Get("status"), OS: q.Get("os"),
		Sort: q.Get("sort"), Limit: limit, Offset: offset}
	switch f.Status {
	case "", "online", "offline":
	default:
		return badRequest("status: want online or offline, got %q", f.Status)
	}
	if err := checkOptionalIDs(map[string]string{"group": f.Group}); err != nil {
		return err
	}
	// The store caches the encoded page (exactly; see store.agentPages):
	// a polled first page costs neither queries nor encoding.
	body, err := a.Store.ListAgentsJSON(r.Context(), f, a.Now(), encodeAgents)
	var bad *store.FilterError
	if errors.As(err, &bad) {
		return badRequest("%v", bad)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, err = w.Write(body)
	return err
}

// encodeAgents matches writeJSON's output (json.Encoder adds a newline).
func encodeAgents(p store.Page[store.Agent]) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func pcParam(r *http.Request) (string, error) {
	pc := r.PathValue("pc")
	if err := ident.Check("pc", pc); err != nil {
		return "", badRequest("%v", err)
	}
	return pc, nil
}

func (a *API) getAgent(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	ag, err := a.Store.GetAgent(r.Context(), pc, a.Now())
	if errors.Is(err, store.ErrNotFound) {
		return notFound("agent %q not found", pc)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ag)
}

func (a *API) deleteAgent(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	if _, err := a.Store.GetAgent(r.Context(), pc, a.Now()); errors.Is(err, store.ErrNotFound) {
		return notFound("agent %q not found", pc)
	} else if err != nil {
		return err
	}
	if err := a.Store.DeleteAgent(r.Context(), pc); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "agent.delete", pc, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
