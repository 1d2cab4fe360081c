package faulttest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// binary is the loginrisk binary TestMain built, or "" when it did not
// (with -short, or without the services every test here needs).
var binary string

// TestMain builds the real binary once, without the race detector even
// under go test -race (the tests drive it as a subprocess, as an operator
// would), and removes it at the end.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if !testing.Short() && os.Getenv("CLICKHOUSE_DSN") != "" && os.Getenv("KAFKA_BROKERS") != "" {
		dir, err := os.MkdirTemp("", "loginrisk-faulttest-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "faulttest: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "loginrisk")
		if err := buildBinary(binary); err != nil {
			fmt.Fprintf(os.Stderr, "faulttest: building loginrisk: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// moduleRoot is the repository root, found from this file's path.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// repoPath resolves a path from the repository root.
func repoPath(rel string) string { return filepath.Join(moduleRoot(), rel) }

// buildBinary runs go build -o out ./cmd/loginrisk in the module root.
func buildBinary(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", out, "./cmd/loginrisk")
	cmd.Dir = moduleRoot()
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, output)
	}
	return nil
}
