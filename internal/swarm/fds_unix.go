//go:build unix

package swarm

import (
	"fmt"
	"syscall"
)

// RaiseFDLimit lifts the soft RLIMIT_NOFILE to the hard limit (a process
// starts with the soft one, often 1024) and returns the new limit.
func RaiseFDLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read fd limit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("raise fd limit: %w", err)
		}
	}
	return rl.Cur, nil
}
