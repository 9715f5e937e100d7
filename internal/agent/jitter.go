package agent

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// JitterOffset returns the start delay in [0, jitter) for one PC and one
// exec. It is a pure function of its inputs so that an agent restarted
// mid-wait sleeps to the same instant instead of drawing a new offset, and
// so that a fleet spreads evenly: the hash makes offsets uniform across
// pc ids for the same exec.
func JitterOffset(pcID, execID string, jitter time.Duration) time.Duration {
	if jitter <= 0 {
		return 0
	}
	h := sha256.New()
	h.Write([]byte(pcID))
	h.Write([]byte{0}) // separator: ("ab","c") and ("a","bc") must differ
	h.Write([]byte(execID))
	sum := h.Sum(nil)
	v := binary.BigEndian.Uint64(sum[:8])
	return time.Duration(v % uint64(jitter))
}
