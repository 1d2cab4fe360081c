package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
)

// services are the real Kafka broker and ClickHouse the tests run on.
type services struct {
	brokers []string
	dsn     string // CLICKHOUSE_DSN; each test uses its own database on that server
}

// startFaultTest begins every fault test: it needs the services
// (needServices), runs in parallel with the other fault tests, and
// returns the services and the seed of its events and faults (testSeed).
func startFaultTest(t *testing.T) (services, uint64) {
	t.Helper()
	svc := needServices(t)
	t.Parallel()
	return svc, testSeed(t)
}

// needServices returns the services, or skips the test (fails it under
// REQUIRE_SERVICES=1). The in-process broker of testkit.Kafka does not
// do: these tests stop, restart and reconnect to a real broker from a
// separate process.
func needServices(t *testing.T) services {
	t.Helper()
	if testing.Short() {
		t.Skip("fault tests run the real binary against real services for minutes; skipped with -short")
	}
	dsn := testkit.ClickHouse(t)
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		if testkit.Required() && os.Getenv("LOGINRISK_KAFKA_FALLBACK") != "inprocess" {
			t.Fatal("KAFKA_BROKERS is not set and REQUIRE_SERVICES=1: the fault tests need a real Kafka broker (make test starts one)")
		}
		t.Skip("KAFKA_BROKERS not set: the fault tests need a real Kafka broker (make test starts one)")
	}
	if binary == "" {
		t.Fatal("TestMain did not build the loginrisk binary")
	}
	return services{brokers: strings.Split(brokers, ","), dsn: dsn}
}

// testSeed returns the seed of a test's events and fault schedule:
// FAULTTEST_SEED when set, else a random one, logged so a failure can be
// replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv("FAULTTEST_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULTTEST_SEED=%q: %v", v, err)
		}
		t.Logf("seed %d (from FAULTTEST_SEED)", s)
		return s
	}
	s := rand.Uint64() >> 1
	t.Logf("seed %d (FAULTTEST_SEED=%d replays these events and this fault schedule)", s, s)
	return s
}

// serveConfig is what a test tunes in the serve configuration.
type serveConfig struct {
	MaxBatch      int           // kafka.max_batch (default 500)
	DrainTimeout  time.Duration // kafka.drain_timeout (default 20s)
	BatchSize     int           // clickhouse.batch_size (default 5000)
	FlushInterval time.Duration // clickhouse.flush_interval (default 200ms)
	MaxBuffer     int           // clickhouse.max_buffer (default 50000)
	HTTPAddr      string        // http.addr (default "": no HTTP API)
	MaxPastSkew   time.Duration // engine.max_past_skew (default 24h)
	// SessionTimeout is kafka.session_timeout (default 20s): how long a
	// killed instance keeps its partitions.
	SessionTimeout time.Duration
	// PublishBeforeHistory is kafka.publish_before_history, written
	// always (false unless set).
	PublishBeforeHistory bool
}

func (c *serveConfig) setDefaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 500
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 20 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = 50000
	}
	if c.MaxPastSkew == 0 {
		c.MaxPastSkew = 24 * time.Hour
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 20 * time.Second
	}
}

// writeConfig writes the YAML configuration serve and replay read.
func (f *fixture) writeConfig(c serveConfig) {
	f.t.Helper()
	c.setDefaults()
	quoted := make([]string, len(f.brokers))
	for i, b := range f.brokers {
		quoted[i] = strconv.Quote(b)
	}
	geoip := func(name string) string { return strconv.Quote(repoPath("testdata/geoip/" + name)) }
	yaml := fmt.Sprintf(`kafka:
  brokers: [%s]
  group_id: %q
  events_topic: %q
  decisions_topic: %q
  dlq_topic: %q
  addresses_topic: %q
  partitions: %d
  create_topics: true
  max_batch: %d
  drain_timeout: %s
  session_timeout: %s
  publish_before_history: %t
  decision_keys:
    - {id: faulttest, secret: %q}
clickhouse:
  dsn: %q
  migrate: true
  warm_up: true
  batch_size: %d
  flush_interval: %s
  max_buffer: %d
geoip:
  city: %s
  asn: %s
  anonymous: %s
rules:
  watch: false
http:
  addr: %q
engine:
  max_past_skew: %s
log:
  level: info
  format: text
`, strings.Join(quoted, ", "), f.group, f.eventsTopic, f.decisionsTopic, f.dlqTopic, f.eventsTopic+"-addresses", f.partitions,
		c.MaxBatch, c.DrainTimeout, c.SessionTimeout, c.PublishBeforeHistory, faulttestDecisionKey, f.dsn, c.BatchSize, c.FlushInterval, c.MaxBuffer,
		geoip("City-Test.mmdb"), geoip("ASN-Test.mmdb"), geoip("Anonymous-IP-Test.mmdb"), c.HTTPAddr, c.MaxPastSkew)
	f.configPath = filepath.Join(f.dir, "loginrisk.yaml")
	if err := os.WriteFile(f.configPath, []byte(yaml), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// faulttestDecisionKey signs the decisions of every serve of a test, so
// that a restarted serve believes its predecessor's.
const faulttestDecisionKey = "faulttest-decision-key-0123456789abcdef"

// httpToken is the admin bearer token given to serve (LOGINRISK_HTTP_TOKEN)
// in case its HTTP API needs one; /readyz itself is open.
const httpToken = "faulttest-token-0123456789abcdef"

// serveProc is one run of loginrisk serve.
type serveProc struct {
	f       *fixture
	n       int // which start of the test this is, from 1
	cmd     *exec.Cmd
	start   time.Time
	done    chan struct{} // closed when the process has exited
	state   *os.ProcessState
	logPath string // where its output goes
}

// startServe starts loginrisk serve on the fixture's configuration; its
// output goes to the fixture's log. The process is killed at the end of
// the test if it is still running.
func (f *fixture) startServe(args ...string) *serveProc {
	return f.startServeLogged(f.logPath, args...)
}

// startServeLogged is startServe with the output to logPath and more
// arguments for serve.
func (f *fixture) startServeLogged(logPath string, args ...string) *serveProc {
	f.t.Helper()
	f.starts++
	lf, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(lf, "=== serve start %d at %s\n", f.starts, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, append([]string{"serve", "--config", f.configPath}, args...)...)
	cmd.Env = append(cleanEnv(), "LOGINRISK_HTTP_TOKEN="+httpToken)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		f.t.Fatalf("starting loginrisk serve: %v", err)
	}
	p := &serveProc{f: f, n: f.starts, cmd: cmd, start: time.Now(), done: make(chan struct{}), logPath: logPath}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		lf.Close()
		close(p.done)
	}()
	f.t.Cleanup(func() {
		if p.running() {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// cleanEnv is the test's environment without LOGINRISK_* variables, so
// that only the written configuration applies.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGINRISK_") {
			out = append(out, kv)
		}
	}
	return out
}

func (p *serveProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProc) kill() {
	p.f.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.f.t.Fatalf("serve (pid %d) still running 15 s after SIGKILL", p.cmd.Process.Pid)
	}
}

// terminate sends SIGTERM and waits up to limit for the exit. It returns
// the exit code (-1 when killed by a signal) and how long the exit took;
// the test fails if it took longer than limit (the process is then
// killed).
func (p *serveProc) terminate(limit time.Duration) (code int, took time.Duration) {
	p.f.t.Helper()
	sent := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.state.ExitCode(), time.Since(sent)
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.f.t.Fatalf("serve did not exit within %s of SIGTERM; killed it", limit)
		return -1, time.Since(sent)
	}
}

// checkAlive fails the test if the process has exited on its own.
func (p *serveProc) checkAlive() {
	p.f.t.Helper()
	if !p.running() {
		p.f.t.Fatalf("serve (start %d) exited unexpectedly: %v", p.n, p.state)
	}
}

// rssBytes reads the process's resident set size from /proc.
func (p *serveProc) rssBytes() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				kb, err := strconv.ParseInt(fields[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS line in /proc status")
}

// logLines returns the lines of the serve log containing substr.
func (f *fixture) logLines(substr string) []string { return fileLines(f.logPath, substr) }

// logLines returns the lines of this serve's log containing substr.
func (p *serveProc) logLines(substr string) []string { return fileLines(p.logPath, substr) }

// fileLines returns the lines of a log file containing substr.
func fileLines(path, substr string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

// logWarmUps logs each start's warm-up summary line.
func (f *fixture) logWarmUps() {
	for _, l := range f.logLines(`msg="state rebuilt from history"`) {
		f.t.Logf("serve warm-up: %s", l[indexOr0(l, "anchor="):])
	}
}

// tailLog returns the last n lines of the serve log.
func (f *fixture) tailLog(n int) string {
	b, err := os.ReadFile(f.logPath)
	if err != nil {
		return fmt.Sprintf("(no serve log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runBinary runs another loginrisk subcommand to completion.
func runBinary(ctx context.Context, t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loginrisk %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond every interval until it reports true, failing the
// test with cond's last status after timeout. alive, when not nil, is
// checked on every round (a serve that died will not make progress).
func eventually(t *testing.T, timeout, interval time.Duration, what string, alive *serveProc, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var status string
	for {
		var ok bool
		ok, status = cond()
		if ok {
			return
		}
		if alive != nil {
			alive.checkAlive()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last status: %s", what, timeout, status)
		}
		time.Sleep(interval)
	}
}

// indexOr0 returns the index of substr in s, or 0.
func indexOr0(s, substr string) int { return max(strings.Index(s, substr), 0) }
