package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/kanade-dev/kanade/internal/agentconfig"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Layered agent settings live in KV agent_config; agents watch it.
func (a *API) configRoutes() {
	a.handle("GET /api/config/{scope}", RoleViewer, a.getConfig)
	a.handle("PUT /api/config/{scope}", RoleOperator, a.putConfig)
	a.handle("DELETE /api/config/{scope}", RoleOperator, a.deleteConfig)
	a.handle("GET /api/agents/{pc}/effective-config", RoleViewer, a.effectiveConfig)
}

func scopeParam(r *http.Request) (string, error) {
	scope := r.PathValue("scope")
	if err := agentconfig.ParseScope(scope); err != nil {
		return "", badRequest("%v", err)
	}
	return scope, nil
}

func (a *API) getConfig(w http.ResponseWriter, r *http.Request) error {
	scope, err := scopeParam(r)
	if err != nil {
		return err
	}
	data, err := a.kvGet(r.Context(), wire.BucketAgentConfig, scope, "config scope")
	if err != nil {
		return err
	}
	layer, err := agentconfig.Decode(data)
	if err != nil {
		return fmt.Errorf("stored config %s: %w", scope, err)
	}
	return writeJSON(w, http.StatusOK, layer)
}

func (a *API) putConfig(w http.ResponseWriter, r *http.Request) error {
	scope, err := scopeParam(r)
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	layer, err := agentconfig.Decode(data)
	if err != nil {
		return badRequest("invalid settings: %v", err)
	}
	stored, _ := json.Marshal(layer)
	if err := a.kvPut(r.Context(), wire.BucketAgentConfig, scope, stored); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "config.set", scope, layer)
	return writeJSON(w, http.StatusOK, layer)
}

func (a *API) deleteConfig(w http.ResponseWriter, r *http.Request) error {
	scope, err := scopeParam(r)
	if err != nil {
		return err
	}
	if _, err := a.kvGet(r.Context(), wire.BucketAgentConfig, scope, "config scope"); err != nil {
		return err
	}
	if err := a.kvDelete(r.Context(), wire.BucketAgentConfig, scope); err != nil {
		return err
	}
	a.audit(r.Context(), actor(r), "config.unset", scope, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) effectiveConfig(w http.ResponseWriter, r *http.Request) error {
	pc, err := pcParam(r)
	if err != nil {
		return err
	}
	groups, _, err := a.readGroups(r, pc)
	if err != nil {
		return err
	}
	layers, err := a.configLayers(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"pc_id": pc, "groups": groups, "settings": agentconfig.Effective(pc, groups, layers),
	})
}

// configLayers reads every stored layer; a corrupt one is logged and
// ignored so one bad write cannot hide the rest.
func (a *API) configLayers(r *http.Request) (map[string]agentconfig.Settings, error) {
	values, err := a.kvAll(r.Context(), wire.BucketAgentConfig)
	if err != nil {
		return nil, err
	}
	layers := map[string]agentconfig.Settings{}
	for scope, v := range values {
		layer, err := agentconfig.Decode(v)
		if err != nil {
			a.Log.Warn("corrupt agent_config layer; ignored", "scope", scope, "err", err)
			continue
		}
		layers[scope] = layer
	}
	return layers, nil
}
