package main

import (
	"os"
	"testing"
)

// asLoginriskEnv, set to 1, makes the test binary act as loginrisk
// itself: the bench's serve instances (TestBenchInstances) run it as
// os.Executable.
const asLoginriskEnv = "CMD_LOGINRISK_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asLoginriskEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
