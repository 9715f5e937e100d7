package agent

import (
	"os"
	"runtime/metrics"
	"time"

	"github.com/shirou/gopsutil/v4/process"

	"golang.org/x/sys/windows"
)

func cpuTime() time.Duration {
	var c, e, k, u windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &c, &e, &k, &u); err != nil {
		return 0
	}
	// Filetime counts 100 ns units.
	ticks := int64(k.HighDateTime)<<32 | int64(k.LowDateTime)
	ticks += int64(u.HighDateTime)<<32 | int64(u.LowDateTime)
	return time.Duration(ticks * 100)
}

// rssBytes is the process working set (gopsutil calls psapi); if that
// fails it falls back to the memory the Go runtime mapped, a close
// stand-in for a pure-Go process.
func rssBytes() uint64 {
	if p, err := process.NewProcess(int32(os.Getpid())); err == nil {
		if mi, err := p.MemoryInfo(); err == nil && mi.RSS > 0 {
			return mi.RSS
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

var getTickCount64 = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetTickCount64")

func bootTime() time.Time {
	ms, _, _ := getTickCount64.Call()
	if ms == 0 {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(ms) * time.Millisecond).UTC().Truncate(time.Second)
}
