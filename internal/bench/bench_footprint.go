package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// Footprint is a process's resource use over a quiet window.
type Footprint struct {
	What    string
	Window  time.Duration
	MaxRSS  int64
	LastRSS int64
	CPU     float64 // share of one core over the window
	FDs     int
	Threads int
}

func (f Footprint) String() string {
	return fmt.Sprintf("footprint %s window=%s rss_max=%.1fMiB rss_end=%.1fMiB cpu=%.3f%% fds=%d threads=%d",
		f.What, f.Window, float64(f.MaxRSS)/(1<<20), float64(f.LastRSS)/(1<<20), f.CPU*100, f.FDs, f.Threads)
}

// MeasureIdle samples pid every second for window.
func MeasureIdle(ctx context.Context, what string, pid int, window time.Duration) (Footprint, error) {
	fp := Footprint{What: what, Window: window}
	first, err := SampleProc(pid)
	if err != nil {
		return fp, err
	}
	last := first
	for time.Since(first.At) < window {
		select {
		case <-ctx.Done():
			return fp, ctx.Err()
		case <-time.After(time.Second):
		}
		if last, err = SampleProc(pid); err != nil {
			return fp, err
		}
		fp.MaxRSS = max(fp.MaxRSS, last.RSS)
	}
	fp.LastRSS, fp.FDs, fp.Threads = last.RSS, last.FDs, last.Thread
	fp.CPU = CPUShare(first, last)
	return fp, nil
}

// AgentFootprint runs one real `kanade agent` process (default settings:
// 30 s heartbeat, process stats on) against b, lets its start-up
// (inventory, catch-up) pass, and measures it idle.
func AgentFootprint(ctx context.Context, bin string, b Backend, dir string, warmup, window time.Duration) (Footprint, error) {
	p, err := StartProc(bin, "agent", "--pc-id", "footprint", "--nats-url", b.NATSURL,
		"--data-dir", filepath.Join(dir, "agent"))
	if err != nil {
		return Footprint{}, err
	}
	defer p.Stop()
	if err := WaitOnline(ctx, b.Client(), 1, time.Minute); err != nil {
		return Footprint{}, fmt.Errorf("agent: %w\n%s", err, p.Output())
	}
	select {
	case <-ctx.Done():
		return Footprint{}, ctx.Err()
	case <-time.After(warmup):
	}
	return MeasureIdle(ctx, "agent (one kanade agent process, idle)", p.PID(), window)
}
