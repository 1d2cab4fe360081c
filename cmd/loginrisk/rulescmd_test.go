//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRulesCheckRefusesAFIFO: `rules check` on a folder with a FIFO named
// like a rule file used to hang on opening it; it now answers with an
// error naming the file and what it is.
func TestRulesCheckRefusesAFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.yaml"), []byte("rules:\n  - {id: city, when: new_city, weight: 30}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	type result struct {
		stderr string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, stderr, code := runCLI(t, "", "rules", "check", dir)
		done <- result{stderr, code}
	}()
	select {
	case r := <-done:
		if r.code != 1 || !strings.Contains(r.stderr, "pipe.yaml is a FIFO") {
			t.Errorf("rules check: exit %d, stderr %q; want 1 and the FIFO named", r.code, r.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("rules check is still blocked after a minute")
	}
}
