// Package cli holds the cobra commands of the kanade binary: one file per
// verb. Daemon roles (server, agent, dev) start in-process components; the
// operator verbs talk to the HTTP API only.
package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// exitError carries a process exit code through cobra without printing.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Main runs the CLI and returns the process exit code.
func Main(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "error:", err)
	return 1
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kanade",
		Short:         "Self-hosted endpoint management over NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	addDaemonCommands(root)
	addOperatorCommands(root)
	return root
}
