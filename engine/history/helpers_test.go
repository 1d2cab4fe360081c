package history

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// withDatabase returns dsn pointing at another database.
func withDatabase(t testing.TB, dsn, database string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", dsn, err)
	}
	u.Path = "/" + database
	return u.String()
}

// testConn opens a connection to dsn, closed at the end of the test.
func testConn(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	opts, err := parseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// freshDatabase returns a DSN for a new, not yet created database
// loginrisk_test_<random>, dropped at the end of the test.
func freshDatabase(t testing.TB) string {
	t.Helper()
	base := testkit.ClickHouse(t)
	name := testkit.Name("loginrisk_test")
	conn := testConn(t, base)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name)
}

// migratedDatabase returns a DSN for a fresh database with the schema.
func migratedDatabase(t testing.TB) string {
	t.Helper()
	dsn := freshDatabase(t)
	if err := Migrate(testContext(t), dsn, testLogger(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return dsn
}

// recordingDatabase returns a DSN for a fresh database with the schema and
// a Writer to it, running until the end of the test and flushing every
// 10 ms.
func recordingDatabase(t *testing.T) (string, *Writer) {
	t.Helper()
	dsn := migratedDatabase(t)
	return dsn, startWriter(t, Config{DSN: dsn, FlushInterval: 10 * time.Millisecond})
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startWriter creates a Writer and runs it until the end of the test.
func startWriter(t *testing.T, cfg Config) *Writer {
	t.Helper()
	w := newWriter(t, cfg)
	runWriter(t, w)
	return w
}

func newWriter(t *testing.T, cfg Config) *Writer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// runWriter runs w.Run in the background; the returned function (also
// called at cleanup) cancels it and returns Run's result.
func runWriter(t *testing.T, w *Writer) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// queryUint64 runs a query returning one number.
func queryUint64(t *testing.T, conn driver.Conn, sql string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(testContext(t), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// forEachRow runs sql and scans each row of the answer into dest, then
// calls each.
func forEachRow(t testing.TB, conn driver.Conn, sql string, dest []any, each func()) {
	t.Helper()
	rows, err := conn.Query(testContext(t), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		each()
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// T0 is the time the test events are placed around.
var T0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func minutes(m float64) time.Time { return T0.Add(time.Duration(m * float64(time.Minute))) }

// event builds a scored event with the event's own features filled in and
// an allow decision; options change it.
func event(id, user, ip string, at time.Time, outcome schemas.Outcome, opts ...func(*schemas.ScoredEvent)) schemas.ScoredEvent {
	ev := &schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: user, Outcome: outcome, IP: ip}
	if addr, err := schemas.ParseIP(ip); err == nil {
		ev.Addr = addr
	}
	f := &schemas.Features{
		UserID: user, IP: ip, Success: outcome == schemas.OutcomeSuccess, Failure: outcome == schemas.OutcomeFailure,
		HourUTC: at.UTC().Hour(), IPv6: ev.Addr.Is6(),
	}
	if ev.Addr.IsValid() {
		bits := 24
		if ev.Addr.Is6() {
			bits = 64
		}
		p, _ := ev.Addr.Prefix(bits)
		f.Network = p.String()
	}
	d := &schemas.Decision{EventID: id, UserID: user, IP: ip, OccurredAt: at, DecidedAt: at, Decision: schemas.VerdictAllow,
		Reasons: []schemas.Reason{}, RulesVersion: "v1"}
	se := schemas.ScoredEvent{Event: ev, Features: f, Decision: d}
	for _, o := range opts {
		o(&se)
	}
	return se
}

func failed(reason string) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) {
		se.Event.FailureReason = reason
		se.Features.FailureReason = reason
	}
}

func geo(country, city string, asn int, org string) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) {
		f := se.Features
		f.GeoKnown, f.Country, f.City = true, country, city
		f.ASNKnown, f.ASN, f.ASOrg = true, asn, org
	}
}

func decided(v schemas.Verdict, score int, reasons ...schemas.Reason) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) {
		se.Decision.Decision, se.Decision.Score = v, score
		se.Decision.Reasons = append([]schemas.Reason{}, reasons...)
	}
}

func shadow(hits ...schemas.ShadowHit) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) { se.Decision.Shadow = hits }
}

func locked(scope schemas.LockScope, key string, until time.Time, rule string) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) {
		se.Decision.Lock = &schemas.Lock{Scope: scope, Key: key, Until: until, Rule: rule}
	}
}

func device(key string, isNew bool) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) {
		se.Event.DeviceID = key
		se.Features.DeviceKey, se.Features.HasDeviceID, se.Features.NewDevice = key, true, isNew
	}
}

func tenant(id string) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) { se.Event.TenantID, se.Features.TenantID = id, id }
}

// cityIP returns the n-th IPv4 address of city in the test GeoIP database.
func cityIP(city string, n int) string {
	a, _ := loadgen.CityAddr(city, n, false)
	return a.String()
}

// browserLogin returns ev as a validated login from a Firefox browser; a
// failure fails for failureReason.
func browserLogin(t *testing.T, ev schemas.LoginEvent, failureReason string) *schemas.LoginEvent {
	t.Helper()
	ev.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
	if ev.Outcome == schemas.OutcomeFailure {
		ev.FailureReason = failureReason
	}
	return validLogin(t, ev)
}

// loginScript collects the logins of a warm-up or catch-up scenario:
// browser logins (a failure fails for bad_password) at offsets from base,
// a whole number of days before the wall clock, to the second.
type loginScript struct {
	t    *testing.T
	base time.Time
	evs  []*schemas.LoginEvent
}

// newLoginScript starts a script daysAgo days before the wall clock.
func newLoginScript(t *testing.T, daysAgo int) *loginScript {
	return &loginScript{t: t, base: time.Now().UTC().Add(-time.Duration(daysAgo) * 24 * time.Hour).Truncate(time.Second)}
}

// add appends the login id of user from ip, at base+at.
func (s *loginScript) add(id, user, ip string, at time.Duration, outcome schemas.Outcome) {
	s.addLogin(schemas.LoginEvent{EventID: id, UserID: user, IP: ip, Outcome: outcome}, at)
}

// addLogin appends ev as a browser login at base+at.
func (s *loginScript) addLogin(ev schemas.LoginEvent, at time.Duration) {
	s.t.Helper()
	ev.OccurredAt = s.base.Add(at)
	s.evs = append(s.evs, browserLogin(s.t, ev, "bad_password"))
}

// validLogin returns ev, validated as the engine's intake does.
func validLogin(t *testing.T, ev schemas.LoginEvent) *schemas.LoginEvent {
	t.Helper()
	if err := schemas.Validate(&ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// lockoutEvent is a failed attempt that failure_burst (score 80) locked
// out when it happened, setting lock (see locked).
func lockoutEvent(id, user, ip string, at time.Time, lock func(*schemas.ScoredEvent)) schemas.ScoredEvent {
	return event(id, user, ip, at, schemas.OutcomeFailure, decided(schemas.VerdictLockout, 80, schemas.Reason{Rule: "failure_burst", Weight: 80}), decidedAt(at), lock)
}

func decidedAt(at time.Time) func(*schemas.ScoredEvent) {
	return func(se *schemas.ScoredEvent) { se.Decision.DecidedAt = at }
}

// proxy forwards TCP connections to a target and can be switched off (its
// port then refuses connections), to simulate a ClickHouse outage.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

// newProxy reserves a local port; the proxy starts down.
func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), target: target}
	ln.Close()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen %s: %v", p.addr, err)
	}
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// hostPort returns the host:port of a DSN.
func hostPort(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func withHost(t *testing.T, dsn, host string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host
	return u.String()
}

func isDeadline(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
