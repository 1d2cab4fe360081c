//go:build unix

package engine_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used:
// on a machine shared with other work it measures the benchmark's own
// cost where wall time also counts the time it waited for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
