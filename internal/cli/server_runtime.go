package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// defaultServerMemoryLimit is the server's soft heap limit: none. A soft
// limit (--memory-limit, or GOMEMLIMIT) makes the GC collect harder as
// the process nears it instead of letting the heap double at GOGC=100, so
// it trades CPU for RSS. With 10 000 agents on the embedded broker the
// live set alone is ~190 MiB of heap plus ~150 MiB of goroutine stacks;
// 256MiB had the GC running back to back, and 512MiB (under which a
// fleet-wide fan-out peaks) made the exec API answer 4 s instead of
// 0.6-1 s and the whole round 50 % slower. Operators who prefer RSS set it
// knowingly, well above the live set (docs/PERFORMANCE.md).
const defaultServerMemoryLimit = "0"

// memTrimEvery is how often the server checks for memory to give back
// after a burst (internal/memtrim): a fleet reconnecting at once grows the
// embedded broker's goroutine stacks, which then halve once per GC.
const memTrimEvery = 10 * time.Second

// applyMemoryLimit sets the runtime's soft memory limit from a size such
// as 256MiB; "0" or "off" leaves it unlimited, and GOMEMLIMIT in the
// environment wins over the flag's default.
func applyMemoryLimit(size string, changed bool, getenv func(string) string) error {
	if !changed && getenv("GOMEMLIMIT") != "" {
		return nil
	}
	s := strings.TrimSpace(strings.ToLower(size))
	if s == "" || s == "0" || s == "off" {
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: %w", size, err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// sizeUnits are the suffixes parseSize knows, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
}

// parseSize reads a lowercase byte size: 256mib, 300mb, 1gib, 1048576.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 256MiB")
	}
	return n * mult, nil
}

// startPprof serves net/http/pprof on addr (a diagnostics listener kept
// off the API mux so it is never exposed by accident).
func startPprof(addr string, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server", "err", err)
		}
	}()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
