// Package daemon holds what every daemon role of kanade shares — the
// settings layering of SPEC §1 and the logger — in a package small enough
// for the slim agent binary (cmd/kanade-agent) to link.
package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// ApplySettings fills every flag the user did not set from KANADE_<FLAG>
// and then from the config file named by --config, so the precedence is
// flags > environment > config file > built-in defaults (SPEC §1).
func ApplySettings(cmd *cobra.Command) error {
	file, err := readConfigFile(cmd)
	if err != nil {
		return err
	}
	var firstErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || firstErr != nil {
			return
		}
		env := "KANADE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				firstErr = fmt.Errorf("%s=%q: %w", env, v, err)
			}
			return
		}
		if v, ok := lookupConfig(file, f.Name); ok {
			if err := f.Value.Set(v); err != nil {
				firstErr = fmt.Errorf("config %s=%q: %w", f.Name, v, err)
			}
		}
	})
	return firstErr
}

// lookupConfig accepts both spellings of a key: nats-url and nats_url.
func lookupConfig(file map[string]any, name string) (string, bool) {
	for _, k := range []string{name, strings.ReplaceAll(name, "-", "_")} {
		if v, ok := file[k]; ok {
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

func readConfigFile(cmd *cobra.Command) (map[string]any, error) {
	f := cmd.Flags().Lookup("config")
	if f == nil {
		return nil, nil
	}
	path := f.Value.String()
	if path == "" {
		path = os.Getenv("KANADE_CONFIG")
	}
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	out := map[string]any{}
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		err = toml.Unmarshal(data, &out)
	} else {
		err = yaml.Unmarshal(data, &out)
	}
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", path, err)
	}
	return out, nil
}

// NewLogger logs text on a terminal and JSON otherwise (SPEC §1).
func NewLogger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("KANADE_LOG_LEVEL") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if isatty.IsTerminal(os.Stderr.Fd()) {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
