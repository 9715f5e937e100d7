package agent

import (
	"fmt"
	"strings"
)

// headTail captures at most cap bytes of a stream, keeping the first half
// and the last half. The head says how a script started (banners, the
// first error), the tail how it ended; the middle of a runaway log is the
// least useful part, so it is what gets dropped.
type headTail struct {
	cap   int
	head  []byte
	tail  []byte // ring buffer once full
	pos   int    // next write position in tail when it is full
	total int64
}

func newHeadTail(capBytes int) *headTail {
	if capBytes < 2 {
		capBytes = 2
	}
	return &headTail{cap: capBytes}
}

func (h *headTail) headCap() int { return h.cap / 2 }
func (h *headTail) tailCap() int { return h.cap - h.cap/2 }

// Write never fails: a script must not die of EPIPE because its output
// went over the cap.
func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	h.total += int64(n)
	if room := h.headCap() - len(h.head); room > 0 {
		take := min(room, len(p))
		h.head = append(h.head, p[:take]...)
		p = p[take:]
	}
	h.writeTail(p)
	return n, nil
}

func (h *headTail) writeTail(p []byte) {
	tc := h.tailCap()
	if len(p) >= tc {
		// Only the last tc bytes can survive; reset the ring to them.
		h.tail = append(h.tail[:0], p[len(p)-tc:]...)
		h.pos = 0
		return
	}
	if room := tc - len(h.tail); room > 0 {
		take := min(room, len(p))
		h.tail = append(h.tail, p[:take]...)
		p = p[take:]
	}
	for len(p) > 0 {
		c := copy(h.tail[h.pos:], p)
		p = p[c:]
		h.pos = (h.pos + c) % tc
	}
}

// Truncated reports whether bytes were dropped.
func (h *headTail) Truncated() bool { return h.total > int64(h.cap) }

// String returns head, a marker naming how much was dropped, and tail.
func (h *headTail) String() string {
	var b strings.Builder
	b.Grow(len(h.head) + len(h.tail) + 64)
	b.Write(h.head)
	if h.Truncated() {
		dropped := h.total - int64(len(h.head)) - int64(len(h.tail))
		fmt.Fprintf(&b, "\n... [kanade: %d bytes truncated] ...\n", dropped)
	}
	b.Write(h.tail[h.pos:])
	b.Write(h.tail[:h.pos])
	return b.String()
}

// truncateHeadTail applies the same head+tail rule to a finished string;
// it is used to shrink a result that would not fit the broker's payload cap.
func truncateHeadTail(s string, capBytes int) (string, bool) {
	if len(s) <= capBytes {
		return s, false
	}
	h := newHeadTail(capBytes)
	_, _ = h.Write([]byte(s))
	return h.String(), true
}
