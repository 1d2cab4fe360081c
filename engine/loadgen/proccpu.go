package loadgen

import (
	"time"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
)

// ProcessCPU returns the CPU time, user and system, that process pid has
// used so far (proccpu.Of, from /proc/<pid>/stat), for callers outside
// engine/ such as the bench's serve instances.
func ProcessCPU(pid int) (time.Duration, error) { return proccpu.Of(pid) }
