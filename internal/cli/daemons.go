package cli

import "github.com/spf13/cobra"

// addDaemonCommands registers server, agent and dev.
func addDaemonCommands(root *cobra.Command) {}
