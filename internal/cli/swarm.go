//go:build unix

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/bench"
	"github.com/kanade-dev/kanade/internal/swarm"
)

// swarmReady is printed once every agent is subscribed and caught up;
// `kanade bench` and shard parents wait for it.
const swarmReady = "kanade swarm: ready"

type swarmFlags struct {
	opts    swarm.Options
	groups  string
	runtime string
	shards  int
}

func newSwarmCmd() *cobra.Command {
	var sf swarmFlags
	cmd := &cobra.Command{
		Use:   "swarm",
		Short: "Simulate a fleet: N real agents in one process with an in-process executor (load tests)",
		Long: `swarm runs N agents with the real agent code (subscriptions, catch-up,
dedup, deadline, jitter, outbox, heartbeats, started events, results); only
the executor differs: it sleeps for --runtime and fails --failure-ratio of
runs instead of spawning a shell. Each agent has its own broker connection
unless --shared-conns is set. Data dirs go to a temp dir on /dev/shm when
present. When the file-descriptor limit does not fit N agents, swarm starts
shard processes of itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applySettings(cmd); err != nil {
				return err
			}
			return runSwarm(sf)
		},
	}
	f := cmd.Flags()
	o := &sf.opts
	f.String("config", "", "config file (TOML or YAML) with the same keys as the flags")
	f.IntVar(&o.Agents, "agents", 100, "simulated agents")
	f.StringVar(&o.NATSURL, "nats-url", "nats://127.0.0.1:4222", "broker URL(s)")
	f.StringVar(&o.Prefix, "prefix", "sim-", "pc_id prefix; agents are <prefix><5-digit index>")
	f.IntVar(&o.FirstIndex, "first-index", 0, "index of the first agent (shards of one fleet)")
	f.StringVar(&o.DataDir, "data-dir", "", "agents' state (default: temp dir on /dev/shm, removed at exit)")
	f.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 30*time.Second, "heartbeat interval")
	f.IntVar(&o.SharedConns, "shared-conns", 0, "multiplex agents over this many connections (0: one per agent)")
	f.IntVar(&o.Concurrency, "concurrency", 0, "parallel runs per agent (default 4)")
	f.Float64Var(&o.FailureRatio, "failure-ratio", 0, "share of runs that exit 1 (0..1)")
	f.BoolVar(&o.Fsync, "fsync", false, "fsync the agents' outbox and seen log (off: one shared disk)")
	f.StringVar(&sf.runtime, "runtime", "0", "run time per run: fixed (100ms) or uniform range (50ms-2s)")
	f.StringVar(&sf.groups, "groups", "", "group shares written to KV agent_groups, e.g. canary:1%,office:50%")
	f.IntVar(&sf.shards, "shards", 0, "processes to split the fleet over (0: as the fd limit requires)")
	return cmd
}

func runSwarm(sf swarmFlags) error {
	rt, err := swarm.ParseRange(sf.runtime)
	if err != nil {
		return err
	}
	sf.opts.Runtime = rt
	shares, err := swarm.ParseGroups(sf.groups)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := swarm.WriteGroups(ctx, sf.opts.NATSURL, sf.opts.Prefix, sf.opts.FirstIndex, sf.opts.Agents, shares); err != nil {
		return err
	}
	shards, err := shardCount(sf)
	if err != nil {
		return err
	}
	if shards > 1 {
		return runShards(ctx, sf, shards)
	}
	return runSwarmHere(ctx, sf.opts)
}

// shardCount is the explicit --shards or what the fd limit requires.
func shardCount(sf swarmFlags) (int, error) {
	if sf.shards > 0 {
		return sf.shards, nil
	}
	limit, err := swarm.RaiseFDLimit()
	if err != nil {
		return 0, err
	}
	c := swarm.Capacity(limit, sf.opts.SharedConns)
	if c == 0 {
		return 0, fmt.Errorf("file-descriptor limit %d leaves no room for agents", limit)
	}
	return (sf.opts.Agents + c - 1) / c, nil
}

func runSwarmHere(ctx context.Context, o swarm.Options) error {
	start := time.Now()
	o.Logger = swarmLogger()
	sw, err := swarm.Start(ctx, o)
	if err != nil {
		return err
	}
	defer sw.Close()
	fmt.Printf("%s agents=%d first=%s in=%s data_dir=%s\n", swarmReady, sw.Agents(),
		swarm.PCID(o.Prefix, o.FirstIndex), time.Since(start).Round(time.Millisecond), sw.DataDir())
	<-ctx.Done()
	return nil
}

// swarmLogger keeps warnings only: 10 000 agents log every command.
func swarmLogger() *slog.Logger {
	if os.Getenv("KANADE_LOG_LEVEL") == "debug" {
		return newLogger()
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// runShards starts one child swarm per shard (groups are already
// written) and waits for a signal; children stop with the parent.
func runShards(ctx context.Context, sf swarmFlags, shards int) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	per := (sf.opts.Agents + shards - 1) / shards
	var procs []*bench.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	for first := 0; first < sf.opts.Agents; first += per {
		p, err := bench.StartProc(bin, shardArgs(sf, first, min(per, sf.opts.Agents-first))...)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		if err := p.WaitLine(ctx, swarmReady); err != nil {
			return fmt.Errorf("swarm shard: %w", err)
		}
	}
	fmt.Printf("%s agents=%d shards=%d\n", swarmReady, sf.opts.Agents, len(procs))
	<-ctx.Done()
	return nil
}

func shardArgs(sf swarmFlags, first, n int) []string {
	o := sf.opts
	args := []string{"swarm", "--shards", "1",
		"--agents", strconv.Itoa(n), "--first-index", strconv.Itoa(o.FirstIndex + first),
		"--nats-url", o.NATSURL, "--prefix", o.Prefix,
		"--heartbeat-interval", o.HeartbeatInterval.String(),
		"--shared-conns", strconv.Itoa(o.SharedConns), "--concurrency", strconv.Itoa(o.Concurrency),
		"--failure-ratio", strconv.FormatFloat(o.FailureRatio, 'f', -1, 64),
		"--runtime", sf.runtime, "--fsync=" + strconv.FormatBool(o.Fsync)}
	if o.DataDir != "" {
		args = append(args, "--data-dir", o.DataDir)
	}
	return args
}
