package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
)

// StageHTTP is the bench stage of the HTTP API: status lookups and scores
// at a fixed rate against serve's API in this process, next to a bare
// net/http server on the same machine with the same client (the floor).
const StageHTTP = "http"

// HTTPTarget is a running HTTP API the bench measures: its base URL and a
// bearer token that may score and read status (the gateway's role).
type HTTPTarget struct{ URL, Token string }

// HTTPLoad is one run of the load client: the requests of HTTPRequests
// (What, Users, Seed) sent to URL at Rate per second for Duration.
type HTTPLoad struct {
	URL, Token, What string
	Rate             int
	Duration         time.Duration
	Users            int
	Seed             uint64
	Concurrency      int // connections (default 64)
	// Started, when set, is called once when the client starts sending,
	// its requests made, and before the run returns.
	Started func()
}

// RunHTTPLoad runs l in this process: it makes the requests, calls
// l.Started, and sends them with HTTP (the `loginrisk load` command, and
// the bench's client when BenchConfig.LoadHTTP is nil).
func RunHTTPLoad(ctx context.Context, l HTTPLoad) (HTTPResult, error) {
	cfg := HTTPConfig{URL: l.URL, Token: l.Token, Rate: l.Rate, Duration: l.Duration, Concurrency: l.Concurrency}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil { // before making the requests
		return HTTPResult{}, err
	}
	reqs, err := HTTPRequests(l.What, int(float64(l.Rate)*l.Duration.Seconds()), l.Users, l.Seed)
	if err != nil {
		return HTTPResult{}, err
	}
	if l.What == "score" {
		cfg.Body = func(i int) []byte { return reqs[i] }
	} else {
		cfg.Method = http.MethodGet
		cfg.PathOf = func(i int) string { return string(reqs[i]) }
	}
	if l.Started != nil {
		l.Started()
	}
	return HTTP(ctx, cfg)
}

// httpRun is one run of the HTTP stage: its row's key, the kind of
// request (HTTPRequests) and what the row measures.
type httpRun struct{ key, what, label string }

// httpRuns are the HTTP stage's runs in order, the floor first.
func httpRuns() []httpRun {
	return []httpRun{
		{"http-floor", "user-status", "bare net/http handler answering a fixed small JSON body (the user-status requests)"},
		{"http-score", "score", "POST /v1/score (serve's API, decisions recorded to Kafka)"},
		{"http-user-status", "user-status", "GET /v1/users/{user_id}/status"},
		{"http-ip-status", "ip-status", "GET /v1/ips/{ip}/status"},
	}
}

// floorHandler is the floor: a net/http handler that does nothing but
// answer a fixed body with the content type the API sends.
type floorHandler struct{ body []byte }

func (f floorHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(f.body)
}

// startFloor serves floorHandler on a loopback port with a default
// http.Server, answering about the size of a status without locks; stop
// closes it.
func startFloor() (HTTPTarget, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return HTTPTarget{}, nil, fmt.Errorf("floor server: %w", err)
	}
	srv := &http.Server{Handler: floorHandler{body: []byte(`{"locks":null,"counters":{"failures_1h":0,"successes_30d":12}}`)}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return HTTPTarget{URL: "http://" + ln.Addr().String()}, func() { srv.Close(); <-done }, nil
}

// httpResult is one row of the HTTP table.
type httpResult struct {
	key, label string
	res        HTTPResult
	// server is this process's CPU time during the run, user and kernel;
	// split is where the user time went (shares of the user samples of
	// the run's CPU profile); others are the broker's and ClickHouse's.
	user, kernel time.Duration
	split        httpSplit
	splitOK      bool
	others       []proccpu.Usage
}

// httpStage measures the floor, then serve's API: for each kind of
// request a short warm-up at a fifth of the rate, then the measured run,
// with this process's CPU time (user and kernel apart, from getrusage)
// and a CPU profile over exactly the run. The client runs in a process of
// its own (BenchConfig.LoadHTTP), so this process's CPU is the server's.
func (b *bench) httpStage(ctx context.Context) error {
	floor, stopFloor, err := startFloor()
	if err != nil {
		return err
	}
	// The floor runs first, alone: serve's background work (the consumer
	// group, the follower) is not in its figures.
	runs := httpRuns()
	err = b.httpRun(ctx, runs[0], floor)
	stopFloor()
	if err != nil {
		return err
	}
	api, stopServe, err := b.cfg.ServeHTTP(ctx)
	if err != nil {
		return fmt.Errorf("starting serve's API: %w", err)
	}
	defer stopServe()
	// Scores first: the status lookups that follow ask about the users
	// and addresses they scored (the same seed, the same traffic).
	for _, run := range runs[1:] {
		if err := b.httpRun(ctx, run, api); err != nil {
			return err
		}
	}
	return nil
}

// httpRun warms the target up, then measures one kind of request.
func (b *bench) httpRun(ctx context.Context, run httpRun, t HTTPTarget) error {
	key, what, label := run.key, run.what, run.label
	rate, d := b.cfg.HTTPRate, b.cfg.HTTPFor
	load := HTTPLoad{URL: t.URL, Token: t.Token, What: what, Rate: max(rate/5, 1), Duration: time.Second, Users: b.cfg.Users, Seed: b.cfg.Seed + 1}
	fmt.Fprintf(b.cfg.Progress, "%s: warming up (%d/s for %s)\n", key, load.Rate, load.Duration)
	if _, err := b.loadHTTP(ctx, load); err != nil {
		return fmt.Errorf("%s warm-up: %w", key, err)
	}
	load.Rate, load.Duration, load.Seed = rate, d, b.cfg.Seed
	var stop func() httpResult
	load.Started = func() {
		runtime.GC() // each run starts from a collected heap
		stop = b.startHTTPCost(key)
	}
	fmt.Fprintf(b.cfg.Progress, "%s: %d/s for %s\n", key, rate, d)
	res, err := b.loadHTTP(ctx, load)
	if stop == nil {
		if err == nil {
			err = errors.New("the load client never started sending")
		}
		return fmt.Errorf("%s: %w", key, err)
	}
	r := stop()
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	r.key, r.label, r.res = key, label, res
	b.http = append(b.http, r)
	if res.Errors > 0 {
		b.cfg.Log.Warn("HTTP requests failed", "run", key, "errors", res.Errors, "codes", res.Codes, "first", res.FirstErr)
	}
	return nil
}

// loadHTTP runs the load client: BenchConfig.LoadHTTP, or in this process.
func (b *bench) loadHTTP(ctx context.Context, l HTTPLoad) (HTTPResult, error) {
	if b.cfg.LoadHTTP != nil {
		return b.cfg.LoadHTTP(ctx, l)
	}
	return RunHTTPLoad(ctx, l)
}

// startHTTPCost starts measuring a run: this process's user and kernel
// time, the other processes' CPU, and a CPU profile (written to
// --cpuprofile's directory as <key>.pprof when set).
func (b *bench) startHTTPCost(key string) (stop func() httpResult) {
	user0, kernel0, err0 := proccpu.SelfTimes()
	meter := proccpu.Start(b.procs)
	stopProfile := b.cpuProfile(key)
	return func() httpResult {
		profile := stopProfile()
		var r httpResult
		user1, kernel1, err1 := proccpu.SelfTimes()
		if err := errors.Join(err0, err1); err != nil {
			b.cfg.Log.Warn("reading this process's CPU time", "run", key, "err", err)
		} else {
			r.user, r.kernel = user1-user0, kernel1-kernel0
		}
		for _, u := range meter.Stop(selfName) {
			if u.Name != selfName {
				r.others = append(r.others, u)
			}
		}
		if profile != nil {
			r.split, r.splitOK = splitHTTPProfile(profile)
			b.writeProfile(key, profile)
		}
		return r
	}
}

// httpSplit is where the server's user-mode CPU went during a run, as
// shares of the profile's samples outside system calls: net/http (reading
// and parsing requests, routing, writing answers: everything under the
// server's connection goroutines that is not the handler), the handler
// (our code, from the route's handler down, the engine included), the Go
// runtime on its own stacks (garbage collection, the scheduler) and the
// rest (Kafka recording and consuming, the decisions follower, metrics).
// kernel is the share of all samples that were in system calls, a check
// on getrusage's kernel time.
type httpSplit struct {
	netHTTP, handler, runtime, other float64
	kernel                           float64
}

// ourPrefix is the module's function names: a sample with one of them
// under net/http's serverHandler is the handler's.
const ourPrefix = "github.com/loginrisk/loginrisk/"

// syscallLeaf reports whether a sample ending in function name was taken
// in a system call (Go 1.26, linux/amd64).
func syscallLeaf(name string) bool {
	switch name {
	case "internal/runtime/syscall/linux.Syscall6",
		"syscall.Syscall", "syscall.Syscall6", "syscall.RawSyscall", "syscall.RawSyscall6",
		"runtime.futex", "runtime.usleep", "runtime.write1", "runtime.read",
		"runtime.madvise", "runtime.osyield", "runtime.timer_settime", "runtime.mmap",
		"runtime.sysMmap", "runtime.munmap", "runtime.sysMunmap", "runtime.rtsigprocmask",
		"runtime.tgkill", "runtime.clone", "runtime.nanosleep", "runtime.sigaltstack":
		return true
	}
	return false
}

// splitHTTPProfile computes the split of a CPU profile; ok is false when
// it cannot be parsed or has no sample outside system calls.
func splitHTTPProfile(data []byte) (httpSplit, bool) {
	p, err := profile.ParseData(data)
	if err != nil || len(p.SampleType) == 0 {
		return httpSplit{}, false
	}
	value := len(p.SampleType) - 1 // cpu nanoseconds
	var all, kernel, netHTTP, handler, rt, other float64
	for _, s := range p.Sample {
		v := float64(s.Value[value])
		all += v
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 && s.Location[0].Line[0].Function != nil &&
			syscallLeaf(s.Location[0].Line[0].Function.Name) {
			kernel += v
			continue
		}
		switch httpPart(s) {
		case "net/http":
			netHTTP += v
		case "handler":
			handler += v
		case "runtime":
			rt += v
		default:
			other += v
		}
	}
	user := all - kernel
	if user <= 0 {
		return httpSplit{}, false
	}
	return httpSplit{netHTTP: netHTTP / user, handler: handler / user, runtime: rt / user, other: other / user, kernel: kernel / all}, true
}

// httpPart is the part of the split a sample belongs to. The stack runs
// from the leaf (index 0) to the root: a sample with our code between the
// leaf and net/http's serverHandler is the handler's (net/http's helpers
// it calls, such as writing the header, included); any other with a
// net/http frame is the server's own.
func httpPart(s *profile.Sample) string {
	ours, netHTTP, onlyRuntime := false, false, true
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			name := line.Function.Name
			switch {
			case strings.HasPrefix(name, "net/http.serverHandler.ServeHTTP"):
				if ours {
					return "handler"
				}
				return "net/http"
			case strings.HasPrefix(name, "net/http."):
				netHTTP = true
			case strings.HasPrefix(name, ourPrefix):
				ours = true
			}
			if !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/runtime/") {
				onlyRuntime = false
			}
		}
	}
	switch {
	case netHTTP:
		return "net/http"
	case onlyRuntime:
		return "runtime"
	}
	return "other"
}

// printHTTP writes the HTTP table: each kind's latency, the server's CPU
// per request split, and its ratio to the floor.
func (b *bench) printHTTP(stdout io.Writer) {
	if len(b.http) == 0 {
		return
	}
	var others []string
	for _, r := range b.http {
		for _, u := range r.others {
			if !slices.Contains(others, u.Name) {
				others = append(others, u.Name)
			}
		}
	}
	fmt.Fprintf(stdout, "\nHTTP at %d requests/s for %s each (open loop, latency from each request's due time; the client in a process of its own)\n", b.cfg.HTTPRate, b.cfg.HTTPFor)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	head := "run\trequests\tanswered/s\terrors\tp50\tp99\tp99.9\tserver CPU/req\tkernel\tnet/http\thandler\truntime+GC\tother\tvs floor\tclient CPU/req"
	for _, n := range others {
		head += "\t" + n + " CPU/req"
	}
	fmt.Fprintln(tw, head)
	var floor time.Duration
	for _, r := range b.http {
		n := r.res.Requests
		server := r.user + r.kernel
		if r.key == httpRuns()[0].key {
			floor = perEvent(server, n)
		}
		part := func(share float64) string {
			if !r.splitOK {
				return "-"
			}
			return micros(perEvent(time.Duration(share*float64(r.user)), n))
		}
		ratio := "-"
		if floor > 0 && n > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(perEvent(server, n))/float64(floor))
		}
		line := fmt.Sprintf("%s\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.key, n, r.res.RPS, r.res.Errors,
			millis(r.res.P50), millis(r.res.P99), millis(r.res.P999), micros(perEvent(server, n)), micros(perEvent(r.kernel, n)),
			part(r.split.netHTTP), part(r.split.handler), part(r.split.runtime), part(r.split.other), ratio, micros(perEvent(r.res.CPU, n)))
		for _, name := range others {
			cell := "-"
			for _, u := range r.others {
				if u.Name == name {
					cell = micros(perEvent(u.CPU, n))
				}
			}
			line += "\t" + cell
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, r := range b.http {
		fmt.Fprintf(stdout, "%s: %s\n", r.key, r.label)
	}
	fmt.Fprintf(stdout, "(server CPU/req = kernel + net/http + handler + runtime+GC + other: this process's getrusage over the run, the user time split by its CPU profile; %s)\n", collectorSettings())
}

// collectorSettings is the collector's setting of this process, for the
// footer: "GOGC=400 GOMEMLIMIT=6144MiB" (the command's runtime section,
// or the environment's).
func collectorSettings() string {
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	limit := "off"
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		limit = fmt.Sprintf("%dMiB", l>>20)
	}
	return fmt.Sprintf("GOGC=%d GOMEMLIMIT=%s", gogc, limit)
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}
