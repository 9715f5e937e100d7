package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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
	// AnonRSS and FileRSS split LastRSS: the process's own memory, and
	// pages of its binary and libraries (RssAnon / RssFile).
	AnonRSS, FileRSS int64
}

func (f Footprint) String() string {
	return fmt.Sprintf("footprint %s window=%s rss_max=%.1fMiB (%d bytes) rss_end=%.1fMiB (anon %.1fMiB, file %.1fMiB) cpu=%.3f%% fds=%d threads=%d",
		f.What, f.Window, float64(f.MaxRSS)/(1<<20), f.MaxRSS, float64(f.LastRSS)/(1<<20),
		float64(f.AnonRSS)/(1<<20), float64(f.FileRSS)/(1<<20), f.CPU*100, f.FDs, f.Threads)
}

// rssSplit reads RssAnon and RssFile of pid.
func rssSplit(pid int) (anon, file int64) {
	st := procStatus(pid)
	return st["RssAnon"] << 10, st["RssFile"] << 10
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
	fp.AnonRSS, fp.FileRSS = rssSplit(pid)
	fp.CPU = CPUShare(first, last)
	return fp, nil
}

// AgentBinary is one build of the agent to measure.
type AgentBinary struct {
	What string // how the figure is labelled
	Bin  string
	// Args come before the agent's flags: ["agent"] for kanade, none for
	// the slim kanade-agent.
	Args []string
}

// AgentFootprints runs one real agent process per binary side by side
// against b (default settings: 30 s heartbeat, process stats on; each its
// own pc_id and data dir), lets their start-up (inventory, catch-up) pass,
// and measures each idle over the same window. b must have no other
// agents online.
func AgentFootprints(ctx context.Context, b Backend, dir string, warmup, window time.Duration, bins ...AgentBinary) ([]Footprint, error) {
	procs := make([]*Proc, 0, len(bins))
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()
	for i, ab := range bins {
		pcID := fmt.Sprintf("footprint-%d", i)
		args := append(append([]string{}, ab.Args...), "--pc-id", pcID, "--nats-url", b.NATSURL,
			"--data-dir", filepath.Join(dir, pcID))
		p, err := StartProc(ab.Bin, args...)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	if err := WaitOnline(ctx, b.Client(), len(bins), time.Minute); err != nil {
		var out strings.Builder
		for i, p := range procs {
			fmt.Fprintf(&out, "--- %s:\n%s\n", bins[i].What, p.Output())
		}
		return nil, fmt.Errorf("agents: %w\n%s", err, out.String())
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(warmup):
	}
	fps := make([]Footprint, len(bins))
	errs := make([]error, len(bins))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { fps[i], errs[i] = MeasureIdle(ctx, bins[i].What, p.PID(), window) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return fps, nil
}
