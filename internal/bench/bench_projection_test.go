package bench

import (
	"context"
	"testing"
)

// TestProjectionSmall runs the projection benchmark's whole code path at CI
// size: every row projected, counters exact, all three figures produced.
func TestProjectionSmall(t *testing.T) {
	rep, err := RunProjection(context.Background(), ProjectionConfig{
		Results: 2_000, PerExec: 400, NaiveResults: 200, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if rep.ProjectorRate() <= 0 || rep.RawRate() <= 0 || rep.NaiveRate() <= 0 {
		t.Fatalf("missing figure: %+v", rep)
	}
}

// BenchmarkProjection is the full-size run (200 000 results); its figures
// come from one run, so -benchtime=1x is the useful setting:
//
//	go test ./internal/bench/ -run '^$' -bench Projection -benchtime 1x
func BenchmarkProjection(b *testing.B) {
	for b.Loop() {
		rep, err := RunProjection(context.Background(), ProjectionConfig{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + rep.String())
		b.ReportMetric(rep.ProjectorRate(), "results/s")
		b.ReportMetric(rep.RawRate(), "raw-results/s")
		b.ReportMetric(rep.NaiveRate(), "naive-results/s")
		b.ReportMetric(rep.VsRaw(), "vs-raw")
		b.ReportMetric(rep.VsNaive(), "vs-naive")
	}
}
