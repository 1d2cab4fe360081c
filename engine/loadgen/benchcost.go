package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
)

// costSplit is where this process's CPU went during a phase, from its
// CPU profile: the engine core (decode and score, in the stream's calls
// of Engine.Prepare), the history encode (events to rows to INSERT
// batches), the bench's own work in this process (the fixed-rate
// producer standing in for the gateway: generating, encoding and
// publishing events; and the polling of offsets), and the rest: the
// Kafka I/O (fetch, publish, commit), the batching and commit machinery,
// and the runtime (the collector for all of them).
type costSplit struct {
	core, historyEncode, harness, rest float64 // shares of the samples, summing to 1
}

// splitFrames names the functions whose samples (anywhere on the stack)
// go to a share of the split; the first that matches wins. Engine.Prepare
// is the core as the stream drives it (replay calls Score directly and is
// not split).
func splitFrames() []struct{ prefix, part string } {
	return []struct{ prefix, part string }{
		{"github.com/loginrisk/loginrisk/engine.(*Engine).Prepare", "core"},
		{"github.com/loginrisk/loginrisk/engine/history.newRecord", "history"},
		{"github.com/loginrisk/loginrisk/engine/history.(*columnTable).appendRows", "history"},
		{"github.com/loginrisk/loginrisk/engine/loadgen.(*bench).produceAtRate", "harness"},
		{"github.com/loginrisk/loginrisk/engine/loadgen.(*bench).awaitDecisions", "harness"},
		{"github.com/loginrisk/loginrisk/engine/loadgen.(*bench).awaitCommitted", "harness"},
		{"github.com/loginrisk/loginrisk/engine/loadgen.WatchProgress", "harness"},
	}
}

// splitProfile computes the split of a CPU profile; ok is false when it
// has no sample of the core (not a serve phase) or cannot be parsed.
func splitProfile(data []byte) (costSplit, bool) {
	p, err := profile.ParseData(data)
	if err != nil || len(p.SampleType) == 0 {
		return costSplit{}, false
	}
	value := len(p.SampleType) - 1 // cpu nanoseconds
	frames := splitFrames()
	var total, core, history, harness float64
	for _, s := range p.Sample {
		v := float64(s.Value[value])
		total += v
		part := ""
	stack:
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function == nil {
					continue
				}
				for _, f := range frames {
					if strings.HasPrefix(line.Function.Name, f.prefix) {
						part = f.part
						break stack
					}
				}
			}
		}
		switch part {
		case "core":
			core += v
		case "history":
			history += v
		case "harness":
			harness += v
		}
	}
	if total == 0 || core == 0 {
		return costSplit{}, false
	}
	return costSplit{core: core / total, historyEncode: history / total, harness: harness / total,
		rest: (total - core - history - harness) / total}, true
}

// stageCost is what one phase of the bench cost: the CPU time of this
// process and of the broker and ClickHouse when they were found, and
// where this process's went.
type stageCost struct {
	usage   []proccpu.Usage
	split   costSplit
	splitOK bool
}

// selfName names this process in the CPU table.
const selfName = "loginrisk"

// costProcesses finds the broker and ClickHouse processes to measure: by
// the pid given, else by the port of their address when it is on this
// machine. An in-process broker is part of loginrisk's own CPU.
func costProcesses(cfg BenchConfig, log func(msg string, args ...any)) []proccpu.Process {
	var procs []proccpu.Process
	find := func(name string, pid int, addrs []string) {
		if pid > 0 {
			procs = append(procs, proccpu.Process{Name: name, PID: pid})
			return
		}
		for _, a := range addrs {
			port, ok := localPort(a)
			if !ok {
				continue
			}
			pid, err := proccpu.ListeningOn(port)
			if err == nil {
				procs = append(procs, proccpu.Process{Name: name, PID: pid})
				return
			}
			if !errors.Is(err, proccpu.ErrNotFound) {
				log("cannot look up the process listening on a port; its CPU is not reported", "name", name, "addr", a, "err", err)
			}
		}
	}
	find("kafka", cfg.BrokerPID, cfg.BrokerAddrs)
	find("clickhouse", cfg.ClickHousePID, cfg.ClickHouseAddrs)
	return procs
}

// localPort returns the port of addr (host:port) when its host is this
// machine's loopback.
func localPort(addr string) (int, bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, false
	}
	if host == "localhost" {
		return port, true
	}
	ip := net.ParseIP(host)
	return port, ip != nil && ip.IsLoopback()
}

// startCost starts measuring a phase; stop records its cost under phase,
// split by the phase's CPU profile.
func (b *bench) startCost(phase string) (stop func(profile []byte)) {
	meter := proccpu.Start(b.procs)
	return func(profile []byte) {
		c := stageCost{usage: meter.Stop(selfName)}
		c.split, c.splitOK = splitProfile(profile)
		b.costs[phase] = c
	}
}

// phaseOf is the phase (profile and cost name) a result row measures.
func phaseOf(key string) string {
	switch key {
	case "e2e-drain":
		return StageDrain
	case "e2e-rate":
		return StageLatency
	}
	return key
}

// printCost writes the CPU per event of each row: this process (and for
// the serve rows its split), the broker and ClickHouse.
func (b *bench) printCost(stdout io.Writer) {
	names := []string{selfName}
	for _, p := range b.procs {
		names = append(names, p.Name)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nCPU per event\t%s\ttotal\tloginrisk split: core / history encode / bench producer and polling / Kafka I/O and rest\n", strings.Join(names, "\t"))
	perEvent := func(d time.Duration, events int64) string {
		return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1e3/float64(events))
	}
	for _, r := range b.results {
		c, ok := b.costs[phaseOf(r.key)]
		if !ok || r.events == 0 {
			continue
		}
		cells := make([]string, len(names))
		var self, total time.Duration
		for i, n := range names {
			cells[i] = "-"
			for _, u := range c.usage {
				if u.Name == n {
					cells[i] = perEvent(u.CPU, r.events)
					total += u.CPU
					if n == selfName {
						self = u.CPU
					}
				}
			}
		}
		split := "-"
		if c.splitOK {
			share := func(f float64) string { return perEvent(time.Duration(f*float64(self)), r.events) }
			split = fmt.Sprintf("%s / %s / %s / %s", share(c.split.core), share(c.split.historyEncode), share(c.split.harness), share(c.split.rest))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.key, strings.Join(cells, "\t"), perEvent(total, r.events), split)
	}
	tw.Flush()
	if len(b.procs) < 2 {
		fmt.Fprintf(stdout, "(a broker or ClickHouse not on this machine, or in this process, is not listed; --broker-pid and --clickhouse-pid name them)\n")
	}
}
