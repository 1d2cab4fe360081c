package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
)

// Bounds of a load run: it is a benchmark of this machine's own server,
// never a way to flood anything.
const (
	MaxHTTPDuration = 10 * time.Minute
	MaxHTTPRate     = 200_000 // requests per second
	MaxHTTPRequests = 10_000_000
)

// HTTPConfig shapes a load run (see HTTP).
type HTTPConfig struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080; its host
	// must be a loopback address or localhost.
	URL string
	// Token is sent as a bearer token when set.
	Token string
	// Method and Path of every request (default POST /v1/score).
	Method string
	Path   string
	// PathOf, when set, returns request i's path instead of Path (e.g. a
	// different user's status for each request). It is called from
	// several goroutines at once.
	PathOf func(i int) string
	// Body returns request i's body (nil: no body). It is called from
	// several goroutines at once.
	Body func(i int) []byte
	// ContentType of the body (default application/json).
	ContentType string
	// Rate is the number of requests started per second, whatever the
	// answers' latency (open loop). Required, at most MaxHTTPRate.
	Rate int
	// Duration of the run. Required, at most MaxHTTPDuration; Rate ×
	// Duration is at most MaxHTTPRequests.
	Duration time.Duration
	// Concurrency is the number of requests in flight at most, and of
	// connections (default 64).
	Concurrency int
	// Timeout bounds each request (default 5 s).
	Timeout time.Duration
	// Transport, when set, replaces the default keep-alive transport.
	Transport http.RoundTripper
}

// HTTPResult is what a load run measured. Latencies are measured from the
// time each request was due to start, not from when a free connection
// sent it, so a slow server is not flattered by requests it held back
// (no coordinated omission).
type HTTPResult struct {
	Requests int         // requests started
	Errors   int         // transport errors, timeouts and non-2xx answers
	Codes    map[int]int // answers by status code
	FirstErr string      // the first transport error, if any
	P50      time.Duration
	P99      time.Duration
	P999     time.Duration
	Max      time.Duration
	RPS      float64 // requests answered per second of the run
	Elapsed  time.Duration
	// CPU is the CPU time (user and system) this process used during the
	// run: the client's own cost when it runs in a process of its own
	// (`loginrisk load`), zero when it could not be read.
	CPU time.Duration
}

func (c *HTTPConfig) setDefaults() {
	if c.Method == "" {
		c.Method = http.MethodPost
	}
	if c.Path == "" {
		c.Path = "/v1/score"
	}
	if c.ContentType == "" {
		c.ContentType = "application/json"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
}

// Validate reports what is wrong with the configuration.
func (c *HTTPConfig) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("load: url %q is not an http(s) URL", c.URL)
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); (err != nil || !addr.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("load: url host %q is not a loopback address; a load run only targets this machine", host)
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("load: path %q must start with /", c.Path)
	}
	if c.Rate < 1 || c.Rate > MaxHTTPRate {
		return fmt.Errorf("load: rate %d is outside 1..%d requests per second", c.Rate, MaxHTTPRate)
	}
	if c.Duration <= 0 || c.Duration > MaxHTTPDuration {
		return fmt.Errorf("load: duration %s is outside (0, %s]", c.Duration, MaxHTTPDuration)
	}
	if n := float64(c.Rate) * c.Duration.Seconds(); n > MaxHTTPRequests {
		return fmt.Errorf("load: rate %d for %s is %.0f requests, more than %d", c.Rate, c.Duration, n, MaxHTTPRequests)
	}
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		return fmt.Errorf("load: concurrency %d is outside 1..4096", c.Concurrency)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("load: timeout %s must not be negative", c.Timeout)
	}
	return nil
}

// HTTP sends Rate requests per second for Duration to a server on this
// machine and measures their latency. It stops early when ctx ends, and in
// any case Timeout after Duration; it returns what it measured.
func HTTP(ctx context.Context, cfg HTTPConfig) (HTTPResult, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return HTTPResult{}, err
	}
	u, _ := url.Parse(cfg.URL) // checked by Validate
	// Each worker sends through its own sender: a lean keep-alive
	// connection for plain HTTP, net/http for HTTPS or a given Transport.
	var newSender func() loadSender
	if cfg.Transport == nil && u.Scheme == "http" {
		newSender = func() loadSender { return newLoadConn(u, &cfg) }
	} else {
		transport := cfg.Transport
		if transport == nil {
			t := &http.Transport{
				MaxIdleConns:        cfg.Concurrency,
				MaxIdleConnsPerHost: cfg.Concurrency,
				MaxConnsPerHost:     cfg.Concurrency,
				IdleConnTimeout:     30 * time.Second,
				DisableCompression:  true,
			}
			defer t.CloseIdleConnections()
			transport = t
		}
		client := clientSender{client: &http.Client{Transport: transport, Timeout: cfg.Timeout}, cfg: &cfg}
		newSender = func() loadSender { return client }
	}

	total := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	interval := time.Second / time.Duration(cfg.Rate)
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+cfg.Timeout+time.Second)
	defer cancel()

	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, cfg.Concurrency)
	type tally struct {
		latencies []time.Duration
		codes     map[int]int
		errors    int
		firstErr  string
	}
	tallies := make([]tally, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range tallies {
		t := &tallies[w]
		t.latencies = make([]time.Duration, 0, total/cfg.Concurrency+1)
		t.codes = map[int]int{}
		sender := newSender()
		wg.Go(func() {
			defer sender.close()
			for j := range jobs {
				if early := time.Until(j.due); early > 0 {
					time.Sleep(early) // the dispatcher releases requests up to 1 ms ahead
				}
				code, err := sender.do(ctx, j.i)
				t.latencies = append(t.latencies, time.Since(j.due))
				if err != nil {
					t.errors++
					if t.firstErr == "" {
						t.firstErr = err.Error()
					}
					continue
				}
				t.codes[code]++
				if code < 200 || code > 299 {
					t.errors++
				}
			}
		})
	}

	cpuStart, cpuErr := proccpu.Self()
	start := time.Now()
	started := 0
dispatch:
	for started < total {
		due := start.Add(time.Duration(started) * interval)
		if wait := time.Until(due); wait > time.Millisecond {
			// Sleep in steps of about a millisecond and release every
			// request due by then: a timer per request is too coarse at
			// high rates.
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				break dispatch
			}
		}
		select {
		case jobs <- job{i: started, due: due}:
			started++
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)

	res := HTTPResult{Requests: started, Codes: map[int]int{}, Elapsed: elapsed}
	if cpuEnd, err := proccpu.Self(); err == nil && cpuErr == nil {
		res.CPU = cpuEnd - cpuStart
	}
	var all []time.Duration
	answered := 0
	for _, t := range tallies {
		all = append(all, t.latencies...)
		res.Errors += t.errors
		if res.FirstErr == "" {
			res.FirstErr = t.firstErr
		}
		for code, n := range t.codes {
			res.Codes[code] += n
			answered += n
		}
	}
	slices.Sort(all)
	res.P50, res.P99, res.P999 = percentile(all, 0.50), percentile(all, 0.99), percentile(all, 0.999)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	if elapsed > 0 {
		res.RPS = float64(answered) / elapsed.Seconds()
	}
	return res, nil
}

// path is request i's path.
func (c *HTTPConfig) path(i int) string {
	if c.PathOf != nil {
		return c.PathOf(i)
	}
	return c.Path
}

// loadSender sends a load run's requests; each worker has its own.
type loadSender interface {
	do(ctx context.Context, i int) (code int, err error)
	close()
}

// clientSender sends through net/http; workers share it.
type clientSender struct {
	client *http.Client
	cfg    *HTTPConfig
}

func (s clientSender) close() {}

// do sends request i and drains the answer so the connection is reused.
func (s clientSender) do(ctx context.Context, i int) (int, error) {
	cfg := s.cfg
	var body io.Reader = http.NoBody
	if cfg.Body != nil {
		body = bytes.NewReader(cfg.Body(i))
	}
	target := strings.TrimSuffix(cfg.URL, "/") + cfg.path(i)
	req, err := http.NewRequestWithContext(ctx, cfg.Method, target, body)
	if err != nil {
		return 0, err
	}
	if cfg.Body != nil {
		req.Header.Set("Content-Type", cfg.ContentType)
	}
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return resp.StatusCode, nil
}

// percentile returns the p-quantile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// HTTPKinds returns the request kinds HTTPRequests makes.
func HTTPKinds() []string { return []string{"score", "user-status", "ip-status"} }

// HTTPRequests makes n requests of kind what (one of HTTPKinds) ahead of
// a run, from the traffic generator's demo mix of users ordinary users:
// score bodies (JSON events timed now, ids unique to this run) or status
// paths.
func HTTPRequests(what string, n, users int, seed uint64) ([][]byte, error) {
	var run [6]byte
	_, _ = rand.Read(run[:])
	prefix := "load-" + hex.EncodeToString(run[:]) + "-"
	gen := New(Config{Users: users, Seed: seed})
	now := time.Now().UTC()
	out := make([][]byte, n)
	for i := range out {
		ev := gen.Next(now)
		switch what {
		case "score":
			ev.EventID = prefix + strconv.Itoa(i)
			b, err := json.Marshal(&ev)
			if err != nil {
				return nil, fmt.Errorf("load: encoding event %d: %w", i, err)
			}
			out[i] = b
		case "user-status":
			path := "/v1/users/" + url.PathEscape(ev.UserID) + "/status"
			if ev.TenantID != "" {
				path += "?tenant=" + url.QueryEscape(ev.TenantID)
			}
			out[i] = []byte(path)
		case "ip-status":
			out[i] = []byte("/v1/ips/" + ev.IP + "/status")
		default:
			return nil, fmt.Errorf("load: --what %q is not one of %v", what, HTTPKinds())
		}
	}
	return out, nil
}
