// Package agentconfig holds the layered agent settings of KV agent_config
// (SPEC §5): built-in defaults, then `global`, then `group.<g>` in group
// name order, then `pc.<pc_id>`; the last layer that sets a key wins.
package agentconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kanade-dev/kanade/internal/duration"
	"github.com/kanade-dev/kanade/internal/ident"
)

// Settings is one layer: only the keys it sets.
type Settings map[string]any

// setting describes one known key: its default and how to check a value.
type setting struct {
	def   any
	check func(v any) (any, error)
}

var known = map[string]setting{
	"heartbeat_interval": {"30s", durationBetween(time.Second, 24*time.Hour)},
	"inventory_interval": {"24h", durationBetween(time.Minute, 30*24*time.Hour)},
	"concurrency":        {4, intBetween(1, 256)},
	"output_cap":         {1 << 20, intBetween(1024, 64<<20)},
}

// Keys lists the settings an operator may set.
func Keys() []string {
	keys := make([]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseScope checks a scope name: global, group.<g> or pc.<pc>.
func ParseScope(scope string) error {
	if scope == "global" {
		return nil
	}
	kind, id, ok := strings.Cut(scope, ".")
	if !ok || (kind != "group" && kind != "pc") {
		return fmt.Errorf("scope: want global, group.<name> or pc.<pc_id>, got %q", scope)
	}
	return ident.Check("scope", id)
}

// Decode reads a layer strictly: unknown keys and bad values are errors
// naming the key, and values are normalised (durations as strings, sizes
// as integers).
func Decode(data []byte) (Settings, error) {
	raw := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("settings must be a JSON object: %w", err)
	}
	out := Settings{}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		s, ok := known[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown setting (known: %s)", k, strings.Join(Keys(), ", ")))
			continue
		}
		v, err := s.check(raw[k])
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		out[k] = v
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// Value is one effective setting and the layer it came from.
type Value struct {
	Value  any    `json:"value"`
	Source string `json:"source"` // builtin | global | group.<g> | pc.<pc>
}

// Effective merges the layers for a PC in the documented order.
func Effective(pc string, groups []string, layers map[string]Settings) map[string]Value {
	out := map[string]Value{}
	for k, s := range known {
		out[k] = Value{Value: s.def, Source: "builtin"}
	}
	order := []string{"global"}
	for _, g := range slices.Sorted(slices.Values(groups)) {
		order = append(order, "group."+g)
	}
	order = append(order, "pc."+pc)
	for _, scope := range order {
		for k, v := range layers[scope] {
			if _, ok := known[k]; ok {
				out[k] = Value{Value: v, Source: scope}
			}
		}
	}
	return out
}

// Duration reads an effective duration setting.
func Duration(eff map[string]Value, key string) time.Duration {
	s, _ := eff[key].Value.(string)
	d, err := duration.Parse(s)
	if err != nil {
		d, _ = duration.Parse(known[key].def.(string))
	}
	return d
}

// Int reads an effective integer setting.
func Int(eff map[string]Value, key string) int {
	switch v := eff[key].Value.(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return known[key].def.(int)
}

func durationBetween(lo, hi time.Duration) func(any) (any, error) {
	return func(v any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a duration string like \"30s\"")
		}
		d, err := duration.Parse(s)
		if err != nil {
			return nil, err
		}
		if d < lo || d > hi {
			return nil, fmt.Errorf("want between %v and %v, got %v", lo, hi, d)
		}
		return duration.Format(d), nil
	}
}

func intBetween(lo, hi int64) func(any) (any, error) {
	return func(v any) (any, error) {
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want an integer")
		}
		i, err := n.Int64()
		if err != nil || i < lo || i > hi {
			return nil, fmt.Errorf("want an integer between %d and %d, got %s", lo, hi, n)
		}
		return i, nil
	}
}
