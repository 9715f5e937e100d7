// Package bench holds kanade's fleet-scale benchmarks. Each one is a plain
// function (so `go test` runs a small version in CI and a CLI can run the
// full one) that builds real parts — an embedded NATS server with
// JetStream, a SQLite file — and reports figures measured in one run.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/bus/embedded"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// broker is an embedded NATS server with kanade's streams and buckets.
type broker struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}

// startBroker runs a real JetStream server on a random loopback port with
// its store under dir, and creates every stream and bucket.
func startBroker(ctx context.Context, dir string) (*broker, error) {
	ns, err := embedded.Start(embedded.Options{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	b := &broker{ns: ns}
	if b.nc, err = nats.Connect(ns.ClientURL()); err != nil {
		b.close()
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := bus.Ensure(ctx, b.js, bus.Config{}); err != nil {
		b.close()
		return nil, fmt.Errorf("ensure resources: %w", err)
	}
	return b, nil
}

func (b *broker) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	b.ns.Shutdown()
	b.ns.WaitForShutdown()
}

// workDir returns dir, or a fresh temporary directory (and its cleanup)
// when dir is empty.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	d, err := os.MkdirTemp("", "kanade-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// openStore opens a fresh projection file named name under dir.
func openStore(dir, name string) (*store.Store, string, error) {
	path := filepath.Join(dir, name)
	st, err := store.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("open store %s: %w", name, err)
	}
	return st, path, nil
}

// benchEpoch is the fixed instant the synthetic fleet lives at, so runs
// are reproducible.
var benchEpoch = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func pcName(i int) string { return fmt.Sprintf("pc-%05d", i) }

// fleetResults builds n results spread over execs of perExec PCs each. One
// in ten fails and one in fifty is skipped, so every counter moves.
func fleetResults(n, perExec, outBytes int) []wire.ExecResult {
	out := make([]wire.ExecResult, n)
	stdout := make([]byte, outBytes)
	for i := range stdout {
		stdout[i] = 'a' + byte(i%26)
	}
	for i := range n {
		exec, pc := i/perExec, i%perExec
		r := wire.ExecResult{
			ResultID: fmt.Sprintf("r-%08d", i), RequestID: fmt.Sprintf("q-%04d", exec),
			ExecID: execName(exec), JobID: "bench-job", Version: "1", PCID: pcName(pc),
			Stdout: string(stdout), StartedAt: benchEpoch, FinishedAt: benchEpoch.Add(time.Second),
		}
		switch {
		case i%50 == 0:
			r.Skipped, r.SkipReason = true, "deadline"
		case i%10 == 0:
			r.ExitCode = 1
		}
		out[i] = r
	}
	return out
}

func execName(i int) string { return fmt.Sprintf("exec-%04d", i) }

// insertExecutions records one executions row per distinct exec of rs with
// its target PCs, as fan-out does before results arrive.
func insertExecutions(ctx context.Context, st *store.Store, rs []wire.ExecResult) error {
	targets := map[string][]string{}
	var order []string
	for _, r := range rs {
		if _, ok := targets[r.ExecID]; !ok {
			order = append(order, r.ExecID)
		}
		targets[r.ExecID] = append(targets[r.ExecID], r.PCID)
	}
	for _, id := range order {
		pcs := slices.Compact(slices.Sorted(slices.Values(targets[id])))
		e := store.Execution{ExecID: id, JobID: "bench-job", Version: "1", InitiatedBy: "bench",
			InitiatedAt: benchEpoch, TargetCount: len(pcs)}
		if err := st.InsertExecution(ctx, e, pcs); err != nil {
			return fmt.Errorf("insert execution %s: %w", id, err)
		}
	}
	return nil
}

// rate is n per elapsed second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}
