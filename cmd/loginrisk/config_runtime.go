package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/loginrisk/loginrisk/features/state"
)

// RuntimeConfig is the runtime section: the Go collector's settings for
// the commands that run the daemon (serve, demo, bench), applied at
// their start by applyRuntime. The environment's GOGC and GOMEMLIMIT
// win over each key when set, as for any Go program.
//
// The API's tail latency at 10 000 requests/s on two cores depends on
// how often the collector runs (docs/performance.md, "The collector"):
// the default raises GOGC to 400 and bounds the heap with a soft memory
// limit derived from the state caps, so memory stays bounded by what
// GOGC 100 would take with the state at its caps.
type RuntimeConfig struct {
	// GCPercent is GOGC: how far the heap grows over the live heap
	// before the next collection, in percent; at least 1. Above 100 it
	// needs a MemoryLimit, which bounds the headroom it grants.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimit is GOMEMLIMIT, the soft limit on the Go runtime's
	// memory: "auto" (memoryLimitAuto), "off" (none), or a size as
	// GOMEMLIMIT writes it (an integer of bytes, or with a unit B, KiB,
	// MiB, GiB or TiB: 4GiB).
	MemoryLimit string `yaml:"memory_limit"`
}

// The words of runtime.memory_limit besides a size.
const (
	memoryLimitAuto = "auto"
	memoryLimitOff  = "off"
)

// defaultGCPercent is GOGC in the daemon by default: at 10 000 status
// lookups a second, GOGC 100 collected about once a second and put the
// collector's work in the API's p99 (docs/performance.md).
const defaultGCPercent = 400

// autoLimitBase is what the auto memory limit allows besides the state:
// the recent decisions (engine.recent_decisions), the console's feed,
// the enrichment caches, the Kafka clients' buffers and the runtime.
const autoLimitBase = 1 << 30

// defaultRuntimeConfig is the section before any file or env.
func defaultRuntimeConfig() RuntimeConfig {
	return RuntimeConfig{GCPercent: defaultGCPercent, MemoryLimit: memoryLimitAuto}
}

// Validate checks each key, and that a GOGC above 100 comes with a
// memory limit.
func (r RuntimeConfig) Validate() error {
	var errs []error
	if r.GCPercent < 1 {
		errs = append(errs, fmt.Errorf("runtime.gc_percent: %d must be at least 1", r.GCPercent))
	}
	limit, err := parseMemoryLimit(r.MemoryLimit)
	if err != nil {
		errs = append(errs, fmt.Errorf("runtime.memory_limit: %w", err))
	} else if limit == 0 && r.GCPercent > 100 {
		errs = append(errs, fmt.Errorf("runtime.gc_percent: %d above 100 needs runtime.memory_limit (auto or a size), not off: the limit bounds the headroom it grants", r.GCPercent))
	}
	return errors.Join(errs...)
}

// parseMemoryLimit reads runtime.memory_limit: the limit in bytes, 0 for
// off, -1 for auto.
func parseMemoryLimit(v string) (int64, error) {
	switch v {
	case memoryLimitAuto:
		return -1, nil
	case memoryLimitOff:
		return 0, nil
	}
	digits := strings.TrimRightFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	unit := v[len(digits):]
	n, err := strconv.ParseInt(digits, 10, 64)
	scale, known := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	switch {
	case err != nil || !known:
		return 0, fmt.Errorf("%q is not auto, off or a size such as 4GiB (units B, KiB, MiB, GiB, TiB)", v)
	case n > math.MaxInt64/scale:
		return 0, fmt.Errorf("%q is more than 8 EiB", v)
	case n*scale < 1<<26:
		return 0, fmt.Errorf("%q must be at least 64MiB", v)
	}
	return n * scale, nil
}

// autoMemoryLimit is the limit of memory_limit: auto: twice what the
// state takes with every cap full (state.StoreConfig.HeapBound), the
// headroom GOGC 100 would give it, plus autoLimitBase; at most three
// quarters of the memory the process may use (machine > 0: the cgroup's
// limit, else the machine's memory).
func autoMemoryLimit(caps state.StoreConfig, machine int64) int64 {
	limit := 2*caps.HeapBound() + autoLimitBase
	if machine > 0 {
		limit = min(limit, machine/4*3)
	}
	return limit
}

// runtimeSettings is what applyRuntime set, as its start-up log line
// says it (the tests read it; the bench's footer reads the runtime's own
// settings back).
type runtimeSettings struct {
	gcPercent   int    // in force
	memoryLimit int64  // in force; math.MaxInt64 is none
	from        string // where each came from
}

// applyRuntime sets GOGC and the soft memory limit from the runtime
// section (validated), unless the environment's GOGC or GOMEMLIMIT set
// them, and logs what is in force.
func applyRuntime(r RuntimeConfig, caps state.StoreConfig, lookupEnv func(string) (string, bool), log *slog.Logger) runtimeSettings {
	var from []string
	if _, ok := lookupEnv("GOGC"); ok {
		from = append(from, "gc_percent from GOGC")
	} else {
		debug.SetGCPercent(r.GCPercent)
		from = append(from, "gc_percent from runtime.gc_percent")
	}
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		from = append(from, "memory_limit from GOMEMLIMIT")
	} else {
		limit, _ := parseMemoryLimit(r.MemoryLimit) // validated
		switch limit {
		case -1:
			limit = autoMemoryLimit(caps, processMemory())
			from = append(from, "memory_limit auto (runtime.memory_limit: twice the state caps' heap bound plus 1 GiB, at most 3/4 of memory)")
		case 0:
			limit = math.MaxInt64
			from = append(from, "no memory limit (runtime.memory_limit: off)")
		default:
			from = append(from, "memory_limit from runtime.memory_limit")
		}
		debug.SetMemoryLimit(limit)
	}
	s := runtimeSettings{gcPercent: debug.SetGCPercent(-1), memoryLimit: debug.SetMemoryLimit(-1), from: strings.Join(from, ", ")}
	debug.SetGCPercent(s.gcPercent)
	log.Info("Go runtime", "gc_percent", s.gcPercent, "memory_limit", formatLimit(s.memoryLimit), "from", s.from)
	return s
}

// formatLimit writes a memory limit in MiB, or "off".
func formatLimit(limit int64) string {
	if limit == math.MaxInt64 {
		return memoryLimitOff
	}
	return fmt.Sprintf("%dMiB", limit>>20)
}

// processMemory is the memory this process may use: its cgroup's limit
// (cgroup v2 memory.max) when there is one, else the machine's
// (MemTotal); 0 when neither can be read.
func processMemory() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
