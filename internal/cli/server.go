package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/memtrim"
	"github.com/kanade-dev/kanade/internal/server"
)

func newServerCmd() *cobra.Command {
	var cfg server.Config
	var printConfig bool
	var pprofAddr, memLimit string
	var memTrim time.Duration
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the backend: API, dashboard, projectors, scheduler (embeds NATS unless --nats-url)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applySettings(cmd); err != nil {
				return err
			}
			cfg.Version = Version
			if printConfig {
				return printJSON(cfg)
			}
			if err := applyMemoryLimit(memLimit, cmd.Flags().Changed("memory-limit"), os.Getenv); err != nil {
				return err
			}
			return runServer(cfg, pprofAddr, memTrim)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "config file (TOML or YAML) with the same keys as the flags")
	f.BoolVar(&printConfig, "print-config", false, "print the effective configuration and exit")
	f.StringVar(&cfg.DataDir, "data-dir", "./kanade-data", "directory for SQLite and the embedded broker")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address for the API and dashboard")
	f.StringVar(&cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen address (0.0.0.0:4222 for a fleet)")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "external NATS cluster (nats://a,nats://b); embeds nothing")
	f.StringVar(&cfg.Auth, "auth", "token", "authentication: token or none")
	f.StringVar(&cfg.AuthToken, "auth-token", "", "static bearer token for the API (env KANADE_AUTH_TOKEN)")
	f.IntVar(&cfg.Replicas, "replicas", 1, "stream and bucket replicas (3 on a NATS cluster)")
	f.BoolVar(&cfg.Reproject, "reproject", false, "drop the SQLite projection and rebuild it from the streams")
	f.IntVar(&cfg.TickKeep, "tick-keep", 500, "decision-log rows kept per schedule")
	f.DurationVar(&cfg.SchedulerPoll, "scheduler-poll", 0, "scheduler tick interval (tests only; default one minute)")
	_ = f.MarkHidden("scheduler-poll")
	f.StringVar(&memLimit, "memory-limit", defaultServerMemoryLimit, "soft Go memory limit, e.g. 600MiB (0 = none; trades GC CPU for RSS; GOMEMLIMIT wins over the default)")
	f.DurationVar(&memTrim, "memory-trim", memTrimEvery, "how often to give memory back to the OS after a burst (0 = leave it to the Go runtime)")
	f.StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this address (diagnostics)")
	_ = f.MarkHidden("pprof")
	return cmd
}

func runServer(cfg server.Config, pprofAddr string, memTrim time.Duration) error {
	ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger()
	stopPprof, err := startPprof(pprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	if memTrim > 0 {
		go memtrim.Run(ctx, memTrim, log)
	}
	fmt.Fprintf(os.Stderr, "kanade server: API and dashboard on %s, agents connect to %s\n", srv.HTTPURL(), srv.NATSURL())
	<-ctx.Done()
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
