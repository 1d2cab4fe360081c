package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// loadReport is what `loginrisk load --json` prints: one run's figures.
type loadReport struct {
	What        string      `json:"what"`
	Rate        int         `json:"rate"`
	Duration    float64     `json:"duration_seconds"`
	Concurrency int         `json:"concurrency"`
	Requests    int         `json:"requests"`
	Errors      int         `json:"errors"`
	Codes       map[int]int `json:"codes"`
	FirstError  string      `json:"first_error,omitempty"`
	RPS         float64     `json:"requests_per_second"`
	P50         float64     `json:"p50_ms"`
	P99         float64     `json:"p99_ms"`
	P999        float64     `json:"p999_ms"`
	Max         float64     `json:"max_ms"`
	// CPU is the load client's own CPU time (user and system) during
	// the run, in seconds.
	CPU float64 `json:"cpu_seconds"`
}

// cmdLoad is `loginrisk load`: an open-loop HTTP load generator against a
// loginrisk API on this machine (loadgen.HTTP), reporting requests/s and
// latency percentiles. The requests are the traffic generator's demo mix:
// score bodies with fresh event ids, status lookups of its users and
// addresses.
func cmdLoad(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the API (a loopback address)")
	token := fs.String("token", "", "bearer token (default: $LOGINRISK_LOAD_TOKEN)")
	what := fs.String("what", "user-status", "requests to send: score, user-status or ip-status")
	rate := fs.Int("rate", 10_000, "requests started per second (open loop)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	concurrency := fs.Int("concurrency", 64, "connections and requests in flight at most")
	users := fs.Int("users", 20_000, "ordinary users in the generated population")
	seed := fs.Uint64("seed", 1, "traffic seed")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	if *token == "" {
		*token = os.Getenv("LOGINRISK_LOAD_TOKEN")
	}
	if *users < 1 {
		return errors.New("load: --users must be positive")
	}
	gcPercent := -1
	res, err := loadgen.RunHTTPLoad(ctx, loadgen.HTTPLoad{URL: *base, Token: *token, What: *what, Rate: *rate, Duration: *duration,
		Users: *users, Seed: *seed, Concurrency: *concurrency, Started: func() {
			// The requests are made; what the run allocates is small and
			// bounded by its length, so the collector is off while it
			// runs: its pauses would be charged to the server's latency.
			runtime.GC()
			gcPercent = debug.SetGCPercent(-1)
			fmt.Fprintln(stderr, loadStartedLine) // the bench starts measuring the server on it
		}})
	if gcPercent >= 0 {
		debug.SetGCPercent(gcPercent)
	}
	if err != nil {
		return err
	}
	rep := loadReport{What: *what, Rate: *rate, Duration: duration.Seconds(), Concurrency: *concurrency,
		Requests: res.Requests, Errors: res.Errors, Codes: res.Codes, FirstError: res.FirstErr, RPS: res.RPS,
		P50: ms(res.P50), P99: ms(res.P99), P999: ms(res.P999), Max: ms(res.Max), CPU: res.CPU.Seconds()}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%s at %d/s for %s (%d connections): %d requests, %.0f answered/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, errors %d, codes %v\n",
		rep.What, rep.Rate, duration, rep.Concurrency, rep.Requests, rep.RPS, rep.P50, rep.P99, rep.P999, rep.Max, rep.Errors, rep.Codes)
	if rep.FirstError != "" {
		fmt.Fprintf(stdout, "first error: %s\n", rep.FirstError)
	}
	return nil
}

// loadStartedLine is what `loginrisk load` writes to stderr when its
// requests are made and it starts sending.
const loadStartedLine = "load: sending"

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
