//go:build unix

package signer

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system,
// on all its threads: what a benchmark spends, however busy the machine
// is with other work (which inflates wall time, not this).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
