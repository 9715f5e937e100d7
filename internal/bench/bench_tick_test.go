package bench

import (
	"context"
	"flag"
	"testing"
)

// -ticks sets how many ticks BenchmarkTick measures, e.g. 30 to see that
// a tick does not slow down as the hour of dispatch marks fills up:
//
//	go test ./internal/bench/ -run '^$' -bench Tick -benchtime 1x -args -ticks 30
var benchTicks = flag.Int("ticks", 5, "ticks measured by BenchmarkTick")

// TestTickSmall runs the tick benchmark's code path at CI size and checks
// every tick's decision (expected, armed, suppressed, fired).
func TestTickSmall(t *testing.T) {
	rep, err := RunTick(context.Background(), TickConfig{PCs: 200, Completed: 100, Marked: 40, Ticks: 2,
		Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
}

// BenchmarkTick is the full-size run (10 000 online PCs):
//
//	go test ./internal/bench/ -run '^$' -bench Tick -benchtime 1x
func BenchmarkTick(b *testing.B) {
	for b.Loop() {
		rep, err := RunTick(context.Background(), TickConfig{Ticks: *benchTicks, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Log("\n" + rep.String())
		b.ReportMetric(float64(rep.Median().Microseconds())/1000, "ms/tick")
		b.ReportMetric(float64(rep.MedianDispatch().Microseconds())/1000, "ms/fanout")
	}
}
