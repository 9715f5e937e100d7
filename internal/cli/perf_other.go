//go:build !unix

package cli

import "github.com/spf13/cobra"

func addPerfCommands(*cobra.Command) {}
