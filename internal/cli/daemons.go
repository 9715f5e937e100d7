package cli

import (
	"context"
	"log/slog"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// addDaemonCommands registers server, agent and dev.
func addDaemonCommands(root *cobra.Command) {
	root.AddCommand(newServerCmd(), newAgentCmd(), newDevCmd())
	addPerfCommands(root)
}

func rootContext() context.Context { return context.Background() }

// newLogger logs text on a terminal and JSON otherwise (SPEC §1).
func newLogger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("KANADE_LOG_LEVEL") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if isatty.IsTerminal(os.Stderr.Fd()) {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
