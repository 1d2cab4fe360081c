package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/loginrisk/loginrisk/engine/httpapi"
	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// benchServeHTTP is the HTTP stage's server: serve in this process, on
// the bench's topics, with its API on a loopback port and one token of
// the gateway's role (score and status), answering once this instance
// owns every partition (so no request is forwarded).
func benchServeHTTP(cfg Config, log *slog.Logger, stderr io.Writer) func(ctx context.Context) (loadgen.HTTPTarget, func(), error) {
	return func(ctx context.Context) (loadgen.HTTPTarget, func(), error) {
		token := newAdminToken()
		c := cfg
		c.HTTP.Addr = "127.0.0.1:0"
		c.HTTP.Tokens = []TokenConfig{{Name: "bench-gateway", Token: Secret(token), Role: string(httpapi.RoleScore)}}
		ctx, cancel := context.WithCancel(ctx)
		started := make(chan *daemon, 1)
		served := make(chan error, 1)
		go func() { served <- serveNotify(ctx, c, log, stderr, func(d *daemon) { started <- d }) }()
		stop := func() {
			cancel()
			<-served
		}
		var d *daemon
		select {
		case d = <-started:
		case err := <-served:
			cancel()
			return loadgen.HTTPTarget{}, nil, fmt.Errorf("serve: %w", err)
		}
		if err := ownsEveryUser(ctx, d, time.Minute); err != nil {
			stop()
			return loadgen.HTTPTarget{}, nil, err
		}
		return loadgen.HTTPTarget{URL: d.srv.url, Token: token}, stop, nil
	}
}

// ownsEveryUser waits until the daemon's instance owns the partitions of
// a spread of users, that is until it has joined the consumer group alone.
func ownsEveryUser(ctx context.Context, d *daemon, limit time.Duration) error {
	owners := d.stream.Instances()
	deadline := time.Now().Add(limit)
	for {
		all := true
		for i := range 64 {
			if o, ok := owners.Owner("user-" + strconv.Itoa(i)); !ok || !o.Self {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve did not own every partition of the bench topics within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// benchLoadHTTP runs the load client as `loginrisk load --json` in a
// process of its own (this binary), so that the bench's own CPU time is
// the server's; its "load: sending" line on stderr calls l.Started, and
// its other lines go to progress.
func benchLoadHTTP(progress io.Writer) func(ctx context.Context, l loadgen.HTTPLoad) (loadgen.HTTPResult, error) {
	return func(ctx context.Context, l loadgen.HTTPLoad) (loadgen.HTTPResult, error) {
		exe, err := os.Executable()
		if err != nil {
			return loadgen.HTTPResult{}, fmt.Errorf("load client: %w", err)
		}
		args := []string{"load", "--json", "--url", l.URL, "--what", l.What, "--rate", strconv.Itoa(l.Rate),
			"--duration", l.Duration.String(), "--users", strconv.Itoa(l.Users), "--seed", strconv.FormatUint(l.Seed, 10)}
		if l.Concurrency > 0 {
			args = append(args, "--concurrency", strconv.Itoa(l.Concurrency))
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		// The token by the environment, never on the command line.
		cmd.Env = append(withoutLoginriskEnv(os.Environ()), "LOGINRISK_LOAD_TOKEN="+l.Token)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			return loadgen.HTTPResult{}, fmt.Errorf("load client: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return loadgen.HTTPResult{}, fmt.Errorf("load client: %w", err)
		}
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if lines.Text() == loadStartedLine {
				if l.Started != nil {
					l.Started()
				}
				continue
			}
			fmt.Fprintf(progress, "load: %s\n", lines.Text())
		}
		if err := cmd.Wait(); err != nil {
			return loadgen.HTTPResult{}, fmt.Errorf("load client (%s): %w", exe, err)
		}
		var rep loadReport
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			return loadgen.HTTPResult{}, fmt.Errorf("load client: reading its report %q: %w", stdout.String(), err)
		}
		return rep.result(), nil
	}
}

// result is the report as loadgen measured it.
func (r loadReport) result() loadgen.HTTPResult {
	d := func(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
	return loadgen.HTTPResult{Requests: r.Requests, Errors: r.Errors, Codes: r.Codes, FirstErr: r.FirstError,
		P50: d(r.P50), P99: d(r.P99), P999: d(r.P999), Max: d(r.Max), RPS: r.RPS,
		Elapsed: time.Duration(r.Duration * float64(time.Second)), CPU: time.Duration(r.CPU * float64(time.Second))}
}
