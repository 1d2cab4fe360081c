//go:build unix

package rules

import (
	"os"
	"syscall"
)

// openFlags open a rule file without blocking: a FIFO opens at once (and
// then fails the type check) instead of waiting for a writer.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
