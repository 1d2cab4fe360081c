//go:build !unix

package rules

import "errors"

// mkfifo fails: this system has no FIFOs in its file system.
func mkfifo(string) error { return errors.New("no FIFOs on this system") }
