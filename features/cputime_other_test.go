//go:build !unix

package features

import "time"

func processCPU() time.Duration { return 0 }
