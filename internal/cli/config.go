package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/client"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Layered agent settings: global, group.<g>, pc.<pc>",
	}
	cmd.AddCommand(newConfigGetCmd(g), newConfigSetCmd(g), newConfigUnsetCmd(g), newConfigEffectiveCmd(g))
	return cmd
}

func newConfigGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get SCOPE",
		Short: "Show one layer (global, group.NAME or pc.ID)",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.GetConfig(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return settingsTable(w, rep.Value) })
		}),
	}
}

func newConfigSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "set SCOPE KEY=VALUE...",
		Short:   "Set settings in one layer, keeping its other keys",
		Example: "  kanade config set global heartbeat_interval=15s\n  kanade config set group.office concurrency=2",
		Args:    cobra.MinimumNArgs(2),
		RunE: g.verb(func(e *env, args []string) error {
			updates, err := parseAssignments(args[1:])
			if err != nil {
				return err
			}
			layer, err := currentLayer(e, args[0])
			if err != nil {
				return err
			}
			maps.Copy(layer, updates)
			rep, err := e.client.PutConfig(e.ctx, args[0], layer)
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error { return settingsTable(w, rep.Value) })
		}),
	}
}

func newConfigUnsetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unset SCOPE [KEY...]",
		Short: "Remove keys from a layer, or the whole layer when no key is named",
		Args:  cobra.MinimumNArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			if len(args) == 1 {
				return e.client.DeleteConfig(e.ctx, args[0])
			}
			layer, err := currentLayer(e, args[0])
			if err != nil {
				return err
			}
			for _, k := range args[1:] {
				delete(layer, k)
			}
			_, err = e.client.PutConfig(e.ctx, args[0], layer)
			return err
		}),
	}
}

func newConfigEffectiveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "effective PC",
		Short: "Show a PC's effective settings and the layer each comes from",
		Args:  cobra.ExactArgs(1),
		RunE: g.verb(func(e *env, args []string) error {
			rep, err := e.client.EffectiveConfig(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.show(rep.Raw, func(w io.Writer) error {
				tw := newTable(w, "SETTING", "VALUE", "SOURCE")
				for _, k := range slices.Sorted(maps.Keys(rep.Value.Settings)) {
					v := rep.Value.Settings[k]
					row(tw, k, strings.Trim(string(v.Value), `"`), v.Source)
				}
				return tw.Flush()
			})
		}),
	}
}

// currentLayer reads a layer, treating a missing one as empty.
func currentLayer(e *env, scope string) (map[string]any, error) {
	rep, err := e.client.GetConfig(e.ctx, scope)
	if client.IsNotFound(err) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	if rep.Value == nil {
		return map[string]any{}, nil
	}
	return rep.Value, nil
}

// parseAssignments reads KEY=VALUE; numbers are sent as numbers so the
// server's type checks see what the operator meant.
func parseAssignments(args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE", a)
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = json.Number(strconv.FormatInt(n, 10))
			continue
		}
		out[k] = v
	}
	return out, nil
}

func settingsTable(w io.Writer, layer map[string]any) error {
	if len(layer) == 0 {
		_, err := fmt.Fprintln(w, "no settings in this layer")
		return err
	}
	tw := newTable(w, "SETTING", "VALUE")
	for _, k := range slices.Sorted(maps.Keys(layer)) {
		row(tw, k, fmt.Sprint(layer[k]))
	}
	return tw.Flush()
}
