package cli

import "github.com/spf13/cobra"

// addOperatorCommands registers the verbs that talk to the HTTP API.
func addOperatorCommands(root *cobra.Command) {}
