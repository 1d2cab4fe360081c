//go:build unix

package featuretest

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time the process has used (user + system, all
// threads), which unlike wall time does not grow while other processes
// hold the CPU.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
