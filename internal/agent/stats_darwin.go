package agent

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rssBytes is the peak resident set (macOS reports ru_maxrss in bytes);
// the current value needs task_info, which is not worth cgo here.
func rssBytes() uint64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return uint64(ru.Maxrss)
}

func bootTime() time.Time {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return time.Time{}
	}
	return time.Unix(tv.Unix()).UTC()
}
