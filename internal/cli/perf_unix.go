//go:build unix

package cli

import "github.com/spf13/cobra"

// addPerfCommands registers the fleet simulator and the benchmarks; they
// drive process groups and rlimits, so they exist on unix only.
func addPerfCommands(root *cobra.Command) {
	root.AddCommand(newSwarmCmd(), newBenchCmd())
}
