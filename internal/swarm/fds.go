package swarm

import "fmt"

// Each simulated agent holds two descriptors for its life: its broker
// connection (unless shared) and its append-only seen log. Short-lived
// files (outbox entries, run markers) and the runtime need a margin.
const (
	fdsPerAgentShared = 1
	fdMargin          = 256
)

// FDsPerAgent is the descriptors one simulated agent holds.
func FDsPerAgent(sharedConns int) int {
	if sharedConns > 0 {
		return fdsPerAgentShared
	}
	return fdsPerAgentShared + 1
}

// Capacity is how many agents one process can run under limit.
func Capacity(limit uint64, sharedConns int) int {
	n := int(limit) - fdMargin - sharedConns
	if n <= 0 {
		return 0
	}
	return n / FDsPerAgent(sharedConns)
}

// CheckFDs raises the limit and fails early, with the arithmetic, when
// agents would not fit: running out of descriptors mid-start shows up as
// confusing dial and open errors.
func CheckFDs(agents, sharedConns int) error {
	limit, err := RaiseFDLimit()
	if err != nil {
		return err
	}
	if c := Capacity(limit, sharedConns); agents > c {
		return fmt.Errorf("%d agents need about %d file descriptors (%d each + %d margin) but the limit is %d: "+
			"at most %d agents fit in one process; use more shards (--shards) or shared connections",
			agents, agents*FDsPerAgent(sharedConns)+fdMargin, FDsPerAgent(sharedConns), fdMargin, limit, c)
	}
	return nil
}
