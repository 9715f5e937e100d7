package agent

import (
	"sync"
	"time"
)

// procStats measures the agent's own footprint for heartbeats. It is a
// small hand-rolled probe per OS (stats_*.go): on Linux /proc and
// getrusage are cheaper than gopsutil's process package; Windows uses
// gopsutil for the working set.
type procStats struct {
	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
}

// sample returns RSS in bytes and CPU% (100 = one core) since the
// previous sample; the first sample reports 0% rather than a lifetime
// average that would hide a current spike.
func (p *procStats) sample(now time.Time) (uint64, float64) {
	cpu := cpuTime()
	p.mu.Lock()
	defer p.mu.Unlock()
	var pct float64
	if wall := now.Sub(p.lastWall); !p.lastWall.IsZero() && wall > 0 && cpu >= p.lastCPU {
		pct = 100 * float64(cpu-p.lastCPU) / float64(wall)
	}
	p.lastCPU, p.lastWall = cpu, now
	return rssBytes(), pct
}
