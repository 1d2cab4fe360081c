//go:build !unix

package rules

import "os"

// openFlags open a rule file read-only (this system has no FIFOs to
// block on).
const openFlags = os.O_RDONLY
