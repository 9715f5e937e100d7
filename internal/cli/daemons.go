package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/cli/daemon"
)

// addDaemonCommands registers server, agent and dev.
func addDaemonCommands(root *cobra.Command) {
	root.AddCommand(newServerCmd(), newAgentCmd(), newDevCmd())
	addPerfCommands(root)
}

func rootContext() context.Context { return context.Background() }

// newLogger logs text on a terminal and JSON otherwise (SPEC §1).
func newLogger() *slog.Logger { return daemon.NewLogger() }
