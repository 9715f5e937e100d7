// Package memtrim gives memory back to the operating system after a
// burst. The Go runtime keeps what a burst made it take: after 10 000
// agents reconnect at once, the embedded broker's 20 000 client goroutines
// hold stacks grown to 32 KiB that only shrink by half per GC, and freed
// heap goes back to the OS slowly. An idle server then shows three times
// its working set (docs/PERFORMANCE.md, "Server memory"). A trim is one
// forced GC plus a scavenge, and runs only while it still finds memory to
// return.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/kanade-dev/kanade/internal/loop"
)

// Usage is what a trim decision looks at.
type Usage struct {
	Free   uint64 // heap memory free and not yet returned to the OS
	Stacks uint64 // heap memory reserved for goroutine stacks
}

// MinFree is the unreturned free heap that is worth a forced GC.
const MinFree = 64 << 20

// Due reports whether a trim is worth it now. lastBefore and lastAfter
// are the stacks around the previous trim (zero if none): while a trim
// still shrinks the stacks by a tenth, the next GC will shrink them again.
func Due(now Usage, lastBefore, lastAfter uint64) bool {
	if now.Free >= MinFree {
		return true
	}
	return lastBefore > 0 && lastAfter < lastBefore-lastBefore/10
}

// Run trims every interval until ctx ends.
func Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	var before, after uint64 // stacks around the previous trim
	loop.Every(ctx, every, func(context.Context) {
		u := Read()
		if !Due(u, before, after) {
			before, after = 0, 0
			return
		}
		debug.FreeOSMemory()
		before, after = u.Stacks, Read().Stacks
		if log != nil {
			log.Debug("memory trimmed", "free_returned", u.Free, "stacks_before", before, "stacks_after", after)
		}
	})
}

var names = []string{"/memory/classes/heap/free:bytes", "/memory/classes/heap/stacks:bytes"}

// Read samples the runtime's memory classes (no stop-the-world).
func Read() Usage {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return Usage{Free: v(0), Stacks: v(1)}
}
