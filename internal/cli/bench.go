//go:build unix

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-dev/kanade/internal/bench"
	"github.com/kanade-dev/kanade/internal/bus/embedded"
)

// benchEnv is what every bench verb needs: its own binary (children run
// `kanade server` and `kanade swarm`) and a scratch dir on tmpfs.
type benchEnv struct {
	bin, dir string
	ctx      context.Context
}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Fleet-scale benchmarks against a real server and a simulated fleet (see docs/PERFORMANCE.md)",
	}
	cmd.AddCommand(newBenchFanoutCmd(), newBenchHeartbeatCmd(), newBenchFootprintCmd(), newBenchBrokerCmd())
	return cmd
}

func withBenchEnv(run func(benchEnv) error) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "kanade-bench-")
	if err != nil {
		return fmt.Errorf("create bench dir: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("bench: binary %s, scratch %s, %d cores\n", bin, dir, numCPU())
	return run(benchEnv{bin: bin, dir: dir, ctx: ctx})
}

func newBenchFanoutCmd() *cobra.Command {
	var sizes, svg string
	var rounds int
	cmd := &cobra.Command{
		Use:   "fanout",
		Short: "exec to all at several fleet sizes: API call → execution completed, by phase",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ns, err := parseSizes(sizes)
			if err != nil {
				return err
			}
			return withBenchEnv(func(e benchEnv) error { return benchFanout(e, ns, rounds, svg) })
		},
	}
	cmd.Flags().StringVar(&sizes, "agents", "100,1000,5000,10000", "fleet sizes, comma-separated")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "exec rounds per size (the median is charted)")
	cmd.Flags().StringVar(&svg, "svg", "", "write a chart of time against fleet size to this SVG file")
	return cmd
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--agents: %q is not a positive number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// goal2s is the fan-out goal at 10 000 agents.
const goal2s = 2 * time.Second

func benchFanout(e benchEnv, sizes []int, rounds int, svg string) error {
	var medians []bench.FanoutResult
	for _, n := range sizes {
		m, err := fanoutAtSize(e, n, rounds)
		if err != nil {
			return fmt.Errorf("fan-out at %d agents: %w", n, err)
		}
		medians = append(medians, m)
		fmt.Printf("MEDIAN %s ratio_to_2s_goal=%.2f\n", m, m.Total().Seconds()/goal2s.Seconds())
	}
	if svg == "" {
		return nil
	}
	if err := os.WriteFile(svg, []byte(bench.FanoutChart(medians).SVG()), 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	fmt.Println("chart written to", svg)
	return nil
}

// fanoutAtSize starts a fresh server and fleet (a previous fleet would
// still count as online for two minutes) and runs the rounds.
func fanoutAtSize(e benchEnv, n, rounds int) (bench.FanoutResult, error) {
	start := time.Now()
	fl, err := bench.StartFleet(e.ctx, e.bin, filepath.Join(e.dir, strconv.Itoa(n)), n, 30*time.Second)
	if err != nil {
		return bench.FanoutResult{}, err
	}
	defer fl.Stop()
	fmt.Printf("fleet of %d up in %s\n", n, time.Since(start).Round(time.Millisecond))
	f, err := bench.NewFanout(e.ctx, fl.Server.Backend, n)
	if err != nil {
		return bench.FanoutResult{}, err
	}
	defer f.Close()
	f.Procs = map[string]int{"server": fl.Server.PID(), "swarm": fl.Swarm.PID()}
	var rs []bench.FanoutResult
	for range rounds {
		r, err := f.Round(e.ctx)
		if err != nil {
			return r, err
		}
		fmt.Println(r)
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b bench.FanoutResult) int { return int(a.Total() - b.Total()) })
	return rs[len(rs)/2], nil
}

func newBenchHeartbeatCmd() *cobra.Command {
	var agents int
	var interval, dur, every time.Duration
	cmd := &cobra.Command{
		Use:   "heartbeat",
		Short: "a fleet heartbeating: projector lag in SQLite and server CPU over time",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return withBenchEnv(func(e benchEnv) error { return benchHeartbeat(e, agents, interval, dur, every) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&agents, "agents", 10000, "simulated agents")
	f.DurationVar(&interval, "interval", time.Second, "heartbeat interval")
	f.DurationVar(&dur, "duration", time.Minute, "measured window")
	f.DurationVar(&every, "every", 5*time.Second, "sampling period")
	return cmd
}

func benchHeartbeat(e benchEnv, agents int, interval, dur, every time.Duration) error {
	fl, err := bench.StartFleet(e.ctx, e.bin, e.dir, agents, interval)
	if err != nil {
		return err
	}
	defer fl.Stop()
	res, err := bench.MeasureHeartbeats(e.ctx, fl.Server.Backend, agents, interval, dur, every,
		func(s string) { fmt.Println(s) })
	if err != nil {
		return err
	}
	fmt.Printf("HEARTBEAT agents=%d interval=%s window=%s max_lag=%s (ratio to 2s: %.2f) max_staleness=%s server_cpu=%.0f%% of a core server_rss_max=%dMiB\n",
		agents, interval, dur, res.MaxNewestAge().Round(time.Millisecond), res.MaxNewestAge().Seconds()/2,
		res.MaxOldestAge().Round(time.Millisecond), res.ServerCPU*100, res.MaxRSS>>20)
	return nil
}

// newBenchBrokerCmd runs the broker `kanade server` embeds, alone, so a
// bench can measure the server and the broker of an external-broker
// deployment as separate processes.
func newBenchBrokerCmd() *cobra.Command {
	var listen, dir, pprofAddr string
	cmd := &cobra.Command{
		Use:    "broker",
		Short:  "run a standalone NATS + JetStream broker (the embedded one) until interrupted",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ns, err := embedded.Start(embedded.Options{Listen: listen, StoreDir: dir})
			if err != nil {
				return err
			}
			defer ns.Shutdown()
			stopPprof, err := startPprof(pprofAddr, newLogger())
			if err != nil {
				return err
			}
			defer stopPprof()
			fmt.Println(bench.BrokerReadyLine, ns.ClientURL())
			ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "client listen address")
	cmd.Flags().StringVar(&dir, "data-dir", "kanade-broker", "JetStream store directory")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this address (diagnostics)")
	return cmd
}

func newBenchFootprintCmd() *cobra.Command {
	var agents int
	var window time.Duration
	var agentBin, brokers string
	cmd := &cobra.Command{
		Use:   "footprint",
		Short: "RSS and CPU of one idle agent process (kanade agent and the slim kanade-agent), and of the server with a fleet connected",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			modes, err := parseBrokerModes(brokers)
			if err != nil {
				return err
			}
			return withBenchEnv(func(e benchEnv) error { return benchFootprint(e, agents, window, agentBin, modes) })
		},
	}
	cmd.Flags().IntVar(&agents, "agents", 10000, "fleet size for the server footprint (0: skip)")
	cmd.Flags().DurationVar(&window, "window", time.Minute, "measured window")
	cmd.Flags().StringVar(&brokers, "broker", "embedded,external", "server footprint with the broker embedded in the server, in its own process (external), or both")
	cmd.Flags().StringVar(&agentBin, "agent-bin", "", "slim agent binary measured beside `kanade agent` (default: kanade-agent next to this binary, if there; none: skip)")
	return cmd
}

// slimAgentBin is the kanade-agent binary to measure, or "" if none.
func slimAgentBin(bin, flag string) (string, error) {
	switch flag {
	case "none":
		return "", nil
	case "":
		path := filepath.Join(filepath.Dir(bin), "kanade-agent")
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			return path, nil
		}
		fmt.Printf("bench: no %s; measuring `kanade agent` only (go build -o %s ./cmd/kanade-agent, or --agent-bin)\n", path, path)
		return "", nil
	}
	if _, err := os.Stat(flag); err != nil {
		return "", fmt.Errorf("--agent-bin: %w", err)
	}
	return flag, nil
}

func benchFootprint(e benchEnv, agents int, window time.Duration, agentBin string, modes []string) error {
	slim, err := slimAgentBin(e.bin, agentBin)
	if err != nil {
		return err
	}
	bins := []bench.AgentBinary{{What: "agent (one kanade agent process, idle)", Bin: e.bin, Args: []string{"agent"}}}
	if slim != "" {
		bins = append(bins, bench.AgentBinary{What: "agent (one slim kanade-agent process, idle)", Bin: slim})
	}
	srv, err := bench.StartServer(e.ctx, e.bin, filepath.Join(e.dir, "server1"))
	if err != nil {
		return err
	}
	fps, err := bench.AgentFootprints(e.ctx, srv.Backend, e.dir, 10*time.Second, window, bins...)
	srv.Stop()
	if err != nil {
		return err
	}
	for _, fp := range fps {
		fmt.Printf("%s ratio_rss_to_20MB=%.2f ratio_cpu_to_0.5%%=%.2f\n", fp,
			float64(fp.MaxRSS)/20e6, fp.CPU/0.005)
	}
	if agents == 0 {
		return nil
	}
	for _, mode := range modes {
		if err := serverFootprint(e, agents, window, mode); err != nil {
			return fmt.Errorf("server footprint, %s broker: %w", mode, err)
		}
	}
	return nil
}

func parseBrokerModes(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		switch m = strings.TrimSpace(m); m {
		case "embedded", "external":
			out = append(out, m)
		default:
			return nil, fmt.Errorf("--broker: %q is neither embedded nor external", m)
		}
	}
	return out, nil
}

// serverFootprint measures the server with a fleet connected; with an
// external broker the broker process is measured over the same window.
func serverFootprint(e benchEnv, agents int, window time.Duration, mode string) error {
	start := bench.StartFleet
	if mode == "external" {
		start = bench.StartFleetExternal
	}
	fl, err := start(e.ctx, e.bin, filepath.Join(e.dir, "fleet-"+mode), agents, 30*time.Second)
	if err != nil {
		return err
	}
	defer fl.Stop()
	what := fmt.Sprintf("server (%s broker, %d agents connected, 30s heartbeats)", mode, agents)
	if fl.Broker == nil {
		fp, err := bench.MeasureIdle(e.ctx, what, fl.Server.PID(), window)
		if err != nil {
			return err
		}
		fmt.Printf("%s ratio_rss_to_300MB=%.2f\n", fp, float64(fp.MaxRSS)/300e6)
		return nil
	}
	var srv, brk bench.Footprint
	var srvErr, brkErr error
	var wg sync.WaitGroup
	wg.Go(func() { srv, srvErr = bench.MeasureIdle(e.ctx, what, fl.Server.PID(), window) })
	wg.Go(func() {
		brk, brkErr = bench.MeasureIdle(e.ctx, fmt.Sprintf("broker process (%d agents connected)", agents), fl.Broker.PID(), window)
	})
	wg.Wait()
	if err := errors.Join(srvErr, brkErr); err != nil {
		return err
	}
	fmt.Printf("%s ratio_rss_to_300MB=%.2f\n", srv, float64(srv.MaxRSS)/300e6)
	fmt.Printf("%s server_plus_broker_rss=%dMiB\n", brk, (srv.MaxRSS+brk.MaxRSS)>>20)
	return nil
}

func numCPU() int { return runtime.NumCPU() }
