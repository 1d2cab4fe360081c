package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/loginrisk/loginrisk/features/state"
)

// keepCollectorSettings restores the test process's GOGC and memory
// limit when the test ends (applyRuntime changes them process-wide).
func keepCollectorSettings(t *testing.T) {
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(limit)
	})
}

// TestRuntimeConfigApplied: the runtime section sets GOGC and the soft
// memory limit (auto: derived from the state caps), and the
// environment's GOGC and GOMEMLIMIT win over it.
func TestRuntimeConfigApplied(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	noEnv := func(string) (string, bool) { return "", false }
	smallCaps := state.StoreConfig{MaxUsers: 10_000, MaxAddresses: 10_000, MaxNetworks: 10_000, MaxDevices: 10_000}
	tests := []struct {
		name      string
		yaml      string
		env       func(string) (string, bool)
		gcPercent int   // want in force; 0: as before
		limit     int64 // want in force; 0: as before
	}{
		{name: "defaults", env: noEnv, gcPercent: defaultGCPercent, limit: autoMemoryLimit(state.DefaultConfig(), processMemory())},
		{name: "auto from the caps", yaml: "state: {max_users: 10000, max_addresses: 10000, max_networks: 10000, max_devices: 10000}\n", env: noEnv,
			gcPercent: defaultGCPercent, limit: autoMemoryLimit(smallCaps, processMemory())},
		{name: "a size", yaml: "runtime: {gc_percent: 250, memory_limit: 3GiB}\n", env: noEnv, gcPercent: 250, limit: 3 << 30},
		{name: "off", yaml: "runtime: {gc_percent: 80, memory_limit: \"off\"}\n", env: noEnv, gcPercent: 80, limit: math.MaxInt64},
		{name: "GOGC and GOMEMLIMIT win", yaml: "runtime: {gc_percent: 250, memory_limit: 3GiB}\n",
			env: func(name string) (string, bool) { return "set", name == "GOGC" || name == "GOMEMLIMIT" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keepCollectorSettings(t)
			debug.SetGCPercent(123)
			debug.SetMemoryLimit(5 << 30)
			cfg := loadYAML(t, tc.yaml)
			if err := cfg.Runtime.Validate(); err != nil {
				t.Fatal(err)
			}
			got := applyRuntime(cfg.Runtime, cfg.State.storeConfig(), tc.env, quiet)
			wantGC, wantLimit := tc.gcPercent, tc.limit
			if wantGC == 0 {
				wantGC, wantLimit = 123, 5<<30
			}
			gogc := debug.SetGCPercent(-1)
			debug.SetGCPercent(gogc)
			if gogc != wantGC || got.gcPercent != wantGC {
				t.Errorf("GOGC in force %d (reported %d), want %d", gogc, got.gcPercent, wantGC)
			}
			if limit := debug.SetMemoryLimit(-1); limit != wantLimit || got.memoryLimit != wantLimit {
				t.Errorf("memory limit in force %d (reported %d), want %d", limit, got.memoryLimit, wantLimit)
			}
		})
	}
}

// TestAutoMemoryLimit: the auto limit is twice the state caps' heap
// bound plus the base, grows with the caps, and stays within three
// quarters of the memory the process may use.
func TestAutoMemoryLimit(t *testing.T) {
	def := state.DefaultConfig()
	if got, want := autoMemoryLimit(def, 0), 2*def.HeapBound()+autoLimitBase; got != want {
		t.Errorf("auto limit at the default caps %d, want %d", got, want)
	}
	if def.HeapBound() < 1<<30 {
		t.Errorf("the default caps' heap bound is %d bytes; a million users alone take more than 780 MiB", def.HeapBound())
	}
	bigger := def
	bigger.MaxUsers *= 4
	if autoMemoryLimit(bigger, 0) <= autoMemoryLimit(def, 0) {
		t.Error("four times the users do not raise the auto limit")
	}
	if got := autoMemoryLimit(def, 4<<30); got != 3<<30 {
		t.Errorf("auto limit on a 4 GiB machine %d, want 3 GiB", got)
	}
}

// TestRuntimeConfigRefused: --check-config refuses a bad gc_percent or
// memory_limit naming the key, and a GOGC above 100 without a limit
// naming both keys.
func TestRuntimeConfigRefused(t *testing.T) {
	checkConfig(t, "migrate", "runtime: {gc_percent: 0}\n", "runtime.gc_percent: 0 must be at least 1")
	checkConfig(t, "migrate", "runtime: {memory_limit: lots}\n", `runtime.memory_limit: "lots" is not auto, off or a size`)
	checkConfig(t, "migrate", "runtime: {memory_limit: 4GB}\n", `runtime.memory_limit: "4GB" is not auto, off or a size`)
	checkConfig(t, "migrate", "runtime: {memory_limit: 1MiB}\n", `runtime.memory_limit: "1MiB" must be at least 64MiB`)
	checkConfig(t, "migrate", "runtime: {memory_limit: 9999999TiB}\n", `runtime.memory_limit: "9999999TiB" is more than 8 EiB`)
	checkConfig(t, "migrate", "runtime: {memory_limit: off}\n", "runtime.gc_percent: 400 above 100 needs runtime.memory_limit")
	checkConfig(t, "migrate", "runtime: {gc_percent: 100, memory_limit: \"off\"}\n", "")
	checkConfig(t, "migrate", "runtime: {gc_percent: 400, memory_limit: 2048MiB}\n", "")
}
