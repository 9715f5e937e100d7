package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/agent"
	"github.com/kanade-dev/kanade/internal/server"
)

func newDevCmd() *cobra.Command {
	var dir, httpAddr, natsListen, pcID string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run server, embedded broker and one local agent in one process (auth off)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(dir, httpAddr, natsListen, pcID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "data-dir", "./kanade-dev", "where the dev server and agent keep their data")
	f.StringVar(&httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address")
	f.StringVar(&natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen address")
	f.StringVar(&pcID, "pc-id", "", "the local agent's pc id (default: host name)")
	return cmd
}

func runDev(dir, httpAddr, natsListen, pcID string) error {
	log := newLogger()
	ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, server.Config{
		DataDir: filepath.Join(dir, "server"), HTTPAddr: httpAddr, NATSListen: natsListen,
		Auth: "none", TickKeep: 500, Version: Version,
	}, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	ag, err := agent.New(agent.Config{
		PCID: pcID, NATSURL: srv.NATSURL(), DataDir: filepath.Join(dir, "agent"),
		Version: Version, Logger: log,
	})
	if err != nil {
		return err
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- ag.Run(ctx) }()
	fmt.Printf("kanade dev is running\n  dashboard: %s/\n  agents:    %s (one local agent: %s)\n  stop:      Ctrl-C\n",
		srv.HTTPURL(), srv.NATSURL(), ag.PCID())
	select {
	case <-ctx.Done():
	case err := <-agentDone:
		if err != nil {
			return fmt.Errorf("local agent: %w", err)
		}
	}
	return nil
}
