package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// GetConfig answers GET /api/config/{scope}: one layer's settings.
func (c *Client) GetConfig(ctx context.Context, scope string) (Reply[map[string]any], error) {
	return get[map[string]any](ctx, c, "/api/config/"+seg(scope), nil)
}

// PutConfig replaces one layer.
func (c *Client) PutConfig(ctx context.Context, scope string, settings map[string]any) (Reply[map[string]any], error) {
	b, err := jsonBody(settings)
	if err != nil {
		return Reply[map[string]any]{}, err
	}
	return call[map[string]any](ctx, c, request{method: http.MethodPut, path: "/api/config/" + seg(scope),
		body: b, contentType: "application/json"})
}

// DeleteConfig removes one layer.
func (c *Client) DeleteConfig(ctx context.Context, scope string) error {
	return c.del(ctx, "/api/config/"+seg(scope))
}

// EffectiveConfig answers GET /api/agents/{pc}/effective-config.
func (c *Client) EffectiveConfig(ctx context.Context, pc string) (Reply[EffectiveConfig], error) {
	return get[EffectiveConfig](ctx, c, "/api/agents/"+seg(pc)+"/effective-config", nil)
}

// EffectiveConfig is every setting of a PC with the layer it came from.
type EffectiveConfig struct {
	PCID     string   `json:"pc_id"`
	Groups   []string `json:"groups"`
	Settings map[string]struct {
		Value  json.RawMessage `json:"value"`
		Source string          `json:"source"`
	} `json:"settings"`
}
