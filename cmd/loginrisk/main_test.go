package main

import (
	"os"
	"testing"
)

// asLoginriskEnv, set to 1, makes the test binary act as loginrisk
// itself: the bench's serve instances (TestBenchInstances) and its HTTP
// load client (TestBenchHTTP) run it as os.Executable.
const asLoginriskEnv = "CMD_LOGINRISK_TEST_AS_MAIN"

// TestMain runs the test binary as loginrisk when asLoginriskEnv is 1.
// Otherwise it sets it before running the tests, so that every process a
// test starts from os.Executable acts as loginrisk: a test that forgets to
// set it cannot make the binary run the tests again, and start itself
// again from them, without end.
func TestMain(m *testing.M) {
	if os.Getenv(asLoginriskEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if err := os.Setenv(asLoginriskEnv, "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
