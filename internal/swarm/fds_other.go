//go:build !unix

package swarm

import "math"

// RaiseFDLimit has nothing to raise where there is no RLIMIT_NOFILE; the
// simulator is meant for the server's own platform.
func RaiseFDLimit() (uint64, error) { return math.MaxInt32, nil }
