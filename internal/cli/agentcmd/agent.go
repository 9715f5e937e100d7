// Package agentcmd is the agent role's command line: `kanade agent` (and
// `kanade agent install`) in the all-in-one binary, and the whole of the
// slim cmd/kanade-agent binary. It links the agent and nothing of the
// server side (embedded broker, SQLite, dashboard), so that the slim
// binary maps only the pages an endpoint needs; deps_test.go keeps it so.
package agentcmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/agent"
	"github.com/kanade-dev/kanade/internal/cli/daemon"
)

// Options says how the agent command is mounted.
type Options struct {
	// Use is the command's name: "agent" under `kanade`, "kanade-agent"
	// as the root of the slim binary.
	Use     string
	Version string
	// Slim is set by kanade-agent: the service command line `install`
	// writes for the running executable then has no `agent` word.
	Slim bool
}

// New returns the agent command with its `install` subcommand.
func New(o Options) *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   o.Use,
		Short: "Run the endpoint agent (one outbound connection to the broker)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := daemon.ApplySettings(cmd); err != nil {
				return err
			}
			cfg.Version = o.Version
			cfg.Logger = daemon.NewLogger()
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "config file (TOML or YAML) with the same keys as the flags")
	f.StringVar(&cfg.PCID, "pc-id", "", "this PC's id (default: the host name, sanitized)")
	f.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "broker URL(s), comma-separated")
	f.StringVar(&cfg.DataDir, "data-dir", defaultDataDir(), "state and outbox directory")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 0, "heartbeat interval (default: from agent_config, 30s)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "commands run in parallel (default 4)")
	f.IntVar(&cfg.OutputCap, "output-cap", 0, "bytes kept per output stream (default 1 MiB)")
	f.DurationVar(&cfg.InventoryInterval, "inventory-interval", 0, "inventory interval (default 24h)")
	// The four settings above follow KV agent_config unless given here
	// (flag, config file or KANADE_* environment): a non-zero value pins
	// the setting over every KV layer. Their defaults are therefore 0.
	cmd.AddCommand(newInstallCmd(o.Slim))
	return cmd
}

func defaultDataDir() string {
	if dir, err := os.UserConfigDir(); err == nil && os.Geteuid() != 0 {
		return dir + "/kanade-agent"
	}
	return "/var/lib/kanade-agent"
}

// SlimName is the slim binary's name (without .exe).
const SlimName = "kanade-agent"

// Main runs the slim binary: the agent command is its root, so
// `kanade-agent --nats-url …` and `kanade-agent install …` work. A leading
// `agent` word is accepted too, so a service command line written for
// `kanade agent …` also runs under kanade-agent.
func Main(args []string, version string) int {
	if len(args) > 0 && args[0] == "agent" {
		args = args[1:]
	}
	root := New(Options{Use: SlimName, Version: version, Slim: true})
	root.Short = "The kanade endpoint agent (slim build of `kanade agent`)"
	root.Version = version
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// isSlim reports whether the binary at path is kanade-agent, by its name
// (either separator: --os=windows renders a Windows path on any host).
func isSlim(path string) bool {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	return strings.EqualFold(strings.TrimSuffix(strings.TrimSuffix(base, ".exe"), ".EXE"), SlimName)
}
