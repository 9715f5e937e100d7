package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Group membership lives in KV agent_groups (agents watch it); the
// projector mirrors it into SQLite for filtering.
func (a *API) groupRoutes() {
	a.handle("GET /api/groups", RoleViewer, a.listGroups)
	a.handle("GET /api/agents/{pc}/groups", RoleViewer, a.getGroups)
	a.handle("PUT /api/agents/{pc}/groups", RoleOperator, a.setGroups)
	a.handle("POST /api/agents/{pc}/groups", RoleOperator, a.addGroup)
	a.handle("DELETE /api/agents/{pc}/groups/{g}", RoleOperator, a.removeGroup)
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	groups, err := a.Store.ListGroups(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, store.Page[store.Group]{Items: groups, Total: len(groups), Limit: len(groups)})
}

func (a *API) getGroups(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	groups, _, err := a.readGroups(r, pc)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.AgentGroups{Groups: groups})
}

// readGroups returns pc's groups and the KV revision (0 = no key yet).
func (a *API) readGroups(r *http.Request, pc string) ([]string, uint64, error) {
	kv, err := a.kv(r.Context(), wire.BucketAgentGroups)
	if err != nil {
		return nil, 0, err
	}
	entry, err := kv.Get(r.Context(), pc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return []string{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: get groups of %s: %v", fanout.ErrUnavailable, pc, err)
	}
	var v wire.AgentGroups
	if err := json.Unmarshal(entry.Value(), &v); err != nil {
		a.Log.Warn("corrupt agent_groups value; treating as empty", "pc", pc, "err", err)
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	return v.Groups, entry.Revision(), nil
}

func (a *API) setGroups(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	var body wire.AgentGroups
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := checkGroups(body.Groups); err != nil {
		return err
	}
	groups := normalizeGroups(body.Groups)
	if err := a.writeGroups(r, pc, groups, nil); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "groups.set", pc, map[string]any{"groups": groups})
	return writeJSON(w, http.StatusOK, wire.AgentGroups{Groups: groups})
}

func (a *API) addGroup(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	var body struct {
		Group string `json:"group"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := checkGroups([]string{body.Group}); err != nil {
		return err
	}
	groups, err := a.editGroups(r, pc, func(g []string) []string { return append(g, body.Group) })
	if err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "groups.add", pc, map[string]any{"group": body.Group})
	return writeJSON(w, http.StatusOK, wire.AgentGroups{Groups: groups})
}

func (a *API) removeGroup(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	g := r.PathValue("g")
	if err := ident.Check("group", g); err != nil {
		return badRequest("%v", err)
	}
	groups, err := a.editGroups(r, pc, func(gs []string) []string {
		return slices.DeleteFunc(gs, func(x string) bool { return x == g })
	})
	if err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "groups.remove", pc, map[string]any{"group": g})
	return writeJSON(w, http.StatusOK, wire.AgentGroups{Groups: groups})
}

// editGroups applies a read-modify-write with the KV revision, retrying when
// another operator changed the same agent at the same moment.
func (a *API) editGroups(r *http.Request, pc string, edit func([]string) []string) ([]string, error) {
	for attempt := 0; attempt < 5; attempt++ {
		groups, rev, err := a.readGroups(r, pc)
		if err != nil {
			return nil, err
		}
		next := normalizeGroups(edit(slices.Clone(groups)))
		err = a.writeGroups(r, pc, next, &rev)
		if errors.Is(err, errConflict) {
			continue
		}
		return next, err
	}
	return nil, errStatus(http.StatusConflict, "groups of %q changed concurrently; try again", pc)
}

var errConflict = errors.New("revision conflict")

// writeGroups stores groups; with rev set, only if nobody wrote since.
func (a *API) writeGroups(r *http.Request, pc string, groups []string, rev *uint64) error {
	kv, err := a.kv(r.Context(), wire.BucketAgentGroups)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(wire.AgentGroups{Groups: groups})
	switch {
	case rev == nil:
		_, err = kv.Put(r.Context(), pc, data)
	case *rev == 0:
		_, err = kv.Create(r.Context(), pc, data)
	default:
		_, err = kv.Update(r.Context(), pc, data, *rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("%w: write groups of %s: %v", fanout.ErrUnavailable, pc, err)
	}
	return nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func checkGroups(groups []string) error {
	var errs manifest.Errors
	for i, g := range groups {
		if err := ident.Check(fmt.Sprintf("groups[%d]", i), g); err != nil {
			errs = append(errs, manifest.FieldError{Path: fmt.Sprintf("groups[%d]", i), Message: err.Error()})
		}
	}
	if len(errs) > 0 {
		return invalid("invalid groups", errs)
	}
	return nil
}

func normalizeGroups(groups []string) []string {
	out := slices.Clone(groups)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}
