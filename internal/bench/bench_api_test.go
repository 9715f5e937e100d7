package bench

import (
	"context"
	"testing"
)

// TestAPISmall runs the API benchmark's code path at CI size: answers
// complete (totals, groups, every result), latencies measured.
func TestAPISmall(t *testing.T) {
	rep, err := RunAPI(context.Background(), APIConfig{Agents: 300, Results: 200, Clients: 4, Requests: 40, DetailRequests: 20,
		Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if len(rep.Routes) != 2 || rep.Routes[0].P99 <= 0 {
		t.Fatalf("missing figures: %+v", rep.Routes)
	}
}

// BenchmarkAPI is the full-size run (10 000 agents, 10 000 results, 32
// clients):
//
//	go test ./internal/bench/ -run '^$' -bench API -benchtime 1x
func BenchmarkAPI(b *testing.B) {
	for b.Loop() {
		rep, err := RunAPI(context.Background(), APIConfig{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + rep.String())
		for i, name := range []string{"agents", "exec"} {
			b.ReportMetric(float64(rep.Routes[i].P50.Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(rep.Routes[i].P99.Microseconds())/1000, name+"-p99-ms")
		}
	}
}
