package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/cli/agentcmd"
)

// newAgentCmd is `kanade agent` and `kanade agent install`; the same
// command is the root of the slim cmd/kanade-agent binary.
func newAgentCmd() *cobra.Command {
	return agentcmd.New(agentcmd.Options{Use: "agent", Version: Version})
}
