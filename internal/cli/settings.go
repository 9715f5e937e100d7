package cli

import (
	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/cli/daemon"
)

// applySettings layers KANADE_* variables and the --config file under the
// flags (SPEC §1); see daemon.ApplySettings.
func applySettings(cmd *cobra.Command) error { return daemon.ApplySettings(cmd) }
