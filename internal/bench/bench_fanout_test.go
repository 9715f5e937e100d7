package bench

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/server"
	"github.com/kanade-dev/kanade/internal/swarm"
)

// startInProcess runs a real server (embedded NATS, SQLite file) inside
// the test; small fleets fit in one process's descriptors.
func startInProcess(t testing.TB) Backend {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Auth: "none",
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return Backend{HTTPURL: srv.HTTPURL(), NATSURL: srv.NATSURL(), DataDir: dir}
}

// TestSwarmFanoutSmall is the CI-sized fan-out: 200 simulated agents on
// their own connections, one exec to all, every agent runs it exactly
// once and the execution completes with the predicted failures.
func TestSwarmFanoutSmall(t *testing.T) {
	const agents = 200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startInProcess(t)
	shares, _ := swarm.ParseGroups("canary:1%,office:50%")
	if err := swarm.WriteGroups(ctx, b.NATSURL, "sim-", 0, agents, shares); err != nil {
		t.Fatal(err)
	}
	sw, err := swarm.Start(ctx, swarm.Options{
		Agents: agents, NATSURL: b.NATSURL, HeartbeatInterval: time.Second,
		FailureRatio: 0.1, Runtime: swarm.Range{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	f, err := NewFanout(ctx, b, agents)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := f.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	checkRound(t, sw, res)
}

func checkRound(t *testing.T, sw *swarm.Swarm, res FanoutResult) {
	t.Helper()
	runs := sw.Executor().Runs(res.ExecID)
	wantFail := 0
	for _, pc := range sw.PCIDs() {
		if n := runs[pc]; n != 1 {
			t.Errorf("%s ran %d times, want exactly once", pc, n)
		}
		if sw.Executor().Fails(pc, res.ExecID) {
			wantFail++
		}
	}
	e := res.Execution
	if res.Incomplete || e.Status != "completed" || e.TargetCount != sw.Agents() {
		t.Fatalf("execution %+v: want completed with target %d", e, sw.Agents())
	}
	if e.Failed != wantFail || e.Succeeded != sw.Agents()-wantFail || e.Skipped+e.Lost != 0 {
		t.Errorf("counters succeeded=%d failed=%d skipped=%d lost=%d, want failed=%d of %d",
			e.Succeeded, e.Failed, e.Skipped, e.Lost, wantFail, sw.Agents())
	}
	if res.Duplicates != 0 || res.Delivery == 0 || res.Results == 0 {
		t.Errorf("phases: %v", res)
	}
}

// BenchmarkSwarmFanout is the in-process variant of `kanade bench
// fanout` for small fleets (server and swarm share this process's
// descriptors, so ~3 per agent); each op is one exec-to-all round trip.
func BenchmarkSwarmFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			ctx := context.Background()
			be := startInProcess(b)
			sw, err := swarm.Start(ctx, swarm.Options{Agents: n, NATSURL: be.NATSURL})
			if err != nil {
				b.Fatal(err)
			}
			defer sw.Close()
			f, err := NewFanout(ctx, be, n)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var last FanoutResult
			for b.Loop() {
				if last, err = f.Round(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(last.Delivery.Milliseconds()), "delivery-ms")
			b.ReportMetric(float64(last.Results.Milliseconds()), "results-ms")
			b.ReportMetric(float64(last.Projected.Milliseconds()), "completed-ms")
		})
	}
}
