package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/agent"
)

func newAgentCmd() *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the endpoint agent (one outbound connection to the broker)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applySettings(cmd); err != nil {
				return err
			}
			cfg.Version = Version
			cfg.Logger = newLogger()
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "config file (TOML or YAML) with the same keys as the flags")
	f.StringVar(&cfg.PCID, "pc-id", "", "this PC's id (default: the host name, sanitized)")
	f.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "broker URL(s), comma-separated")
	f.StringVar(&cfg.DataDir, "data-dir", defaultAgentDataDir(), "state and outbox directory")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 0, "heartbeat interval (default: from agent_config, 30s)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "commands run in parallel (default 4)")
	f.IntVar(&cfg.OutputCap, "output-cap", 0, "bytes kept per output stream (default 1 MiB)")
	f.DurationVar(&cfg.InventoryInterval, "inventory-interval", 0, "inventory interval (default 24h)")
	// The four settings above follow KV agent_config unless given here
	// (flag, config file or KANADE_* environment): a non-zero value pins
	// the setting over every KV layer. Their defaults are therefore 0.
	cmd.AddCommand(newAgentInstallCmd())
	return cmd
}

func defaultAgentDataDir() string {
	if dir, err := os.UserConfigDir(); err == nil && os.Geteuid() != 0 {
		return dir + "/kanade-agent"
	}
	return "/var/lib/kanade-agent"
}
