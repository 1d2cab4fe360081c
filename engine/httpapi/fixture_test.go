package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// The tokens of every fixture, one per role.
const (
	scoreToken   = "score-token-0123456789"
	readToken    = "read-token-0123456789ab"
	adminToken   = "admin-token-0123456789"
	analystToken = "analyst-token-0123456789"
)

// testNow is the fixtures' clock: every event time is near it, and nothing
// depends on the wall clock.
var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// fixture is a real engine (the shipped rules, features without GeoIP
// databases, a recorder that does nothing unless told to fail) behind the
// API on an httptest server.
type fixture struct {
	t        testing.TB
	eng      *engine.Engine
	srv      *Server
	ts       *httptest.Server
	rulesDir string
	registry *prometheus.Registry
	// failRecord makes the recorder fail (lifts cannot be recorded).
	failRecord atomic.Bool
	// published are the decisions the recorder published.
	published publishedDecisions
	// labels are the analysts' labels the engine stored (failRecord
	// makes storing them fail too).
	labels storedLabels
	// readyErr is the error of the "kafka" readiness check.
	readyMu  sync.Mutex
	readyErr error
}

type fixtureOptions struct {
	noReload bool // Config.Reload nil
	// stuckCheck adds a readiness check that ignores its context and
	// answers only when the test ends.
	stuckCheck bool
	// bugUser, when set, makes the state panic (an injected bug) when it
	// observes or reports that user.
	bugUser string
	// metricsOpen and metricsOwnListener set Config.MetricsOpen and
	// Config.MetricsOwnListener.
	metricsOpen, metricsOwnListener bool
	// noFeed leaves the engine without the console's feed.
	noFeed bool
	// history is Config.History.
	history HistoryQuery
	// geoip enriches with the generated test databases of testdata/geoip.
	geoip bool
	// noFeedback leaves the engine without a feedback store.
	noFeedback bool
}

// storedLabels keeps the labels of a fixture's engine (the ClickHouse
// feedback table is tested in engine/history).
type storedLabels struct {
	fail *atomic.Bool
	mu   sync.Mutex
	got  []schemas.Feedback
}

func (l *storedLabels) RecordFeedback(_ context.Context, fb schemas.Feedback) error {
	if l.fail.Load() {
		return errors.New("clickhouse unreachable")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, fb)
	return nil
}

func (l *storedLabels) all() []schemas.Feedback {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]schemas.Feedback(nil), l.got...)
}

// bugState is the real store with a bug injected for one user.
type bugState struct {
	*state.Store
	user string
}

func (s bugState) Observe(ev *schemas.LoginEvent, f *schemas.Features) {
	if ev.UserID == s.user {
		panic("injected bug observing " + ev.UserID)
	}
	s.Store.Observe(ev, f)
}

func (s bugState) UserCounters(tenantID, userID string, at time.Time) schemas.Counters {
	if userID == s.user {
		panic("injected bug reading the counters of " + userID)
	}
	return s.Store.UserCounters(tenantID, userID, at)
}

func newFixture(t testing.TB, opts fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, rulesDir: t.TempDir()}
	copyDefaultRules(t, f.rulesDir)
	rm, err := rules.NewManager(rules.ManagerConfig{Dir: f.rulesDir})
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	var geo enrich.EnricherConfig
	if opts.geoip {
		dir := filepath.Join("..", "..", "testdata", "geoip")
		geo = enrich.EnricherConfig{CityPath: filepath.Join(dir, "City-Test.mmdb"), ASNPath: filepath.Join(dir, "ASN-Test.mmdb"),
			AnonymousPath: filepath.Join(dir, "Anonymous-IP-Test.mmdb")}
	}
	enricher, err := enrich.NewEnricher(geo)
	if err != nil {
		t.Fatalf("enricher: %v", err)
	}
	t.Cleanup(func() { enricher.Close() })
	store, err := state.NewStore(state.StoreConfig{})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	clock := func() time.Time { return testNow }
	feedSize := 10_000
	if opts.noFeed {
		feedSize = 0
	}
	f.labels.fail = &f.failRecord
	var labels engine.FeedbackWriter = &f.labels
	if opts.noFeedback {
		labels = nil
	}
	var state engine.State = store
	if opts.bugUser != "" {
		state = bugState{Store: store, user: opts.bugUser}
	}
	f.eng, err = engine.New(engine.Config{
		Rules:         rm,
		Enricher:      enricher,
		State:         state,
		Recorder:      engine.Recorder{Publisher: failingPublisher{fail: &f.failRecord, published: &f.published}},
		Clock:         clock,
		MaxFutureSkew: 5 * time.Minute,
		MaxPastSkew:   24 * time.Hour,
		FeedSize:      feedSize,
		Feedback:      labels,
	})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	f.registry = prometheus.NewRegistry()
	cfg := Config{
		Engine: f.eng,
		Tokens: []Token{
			{Name: "gateway", Secret: scoreToken, Role: RoleScore},
			{Name: "dashboard", Secret: readToken, Role: RoleRead},
			{Name: "alice", Secret: adminToken, Role: RoleAdmin},
			{Name: "soc", Secret: analystToken, Role: RoleAnalyst},
		},
		Clock:    clock,
		Registry: f.registry,
		Ready: []Check{
			{Name: "rules", Fn: func(context.Context) error { return nil }},
			{Name: "kafka", Fn: func(context.Context) error {
				f.readyMu.Lock()
				defer f.readyMu.Unlock()
				return f.readyErr
			}},
		},
		RecentDecisions:    100_000,
		MetricsOpen:        opts.metricsOpen,
		MetricsOwnListener: opts.metricsOwnListener,
		History:            opts.history,
		RulesStatus:        RulesStatusOf(rm),
	}
	if !opts.noReload {
		cfg.Reload = rm.Reload
	}
	if opts.stuckCheck {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		cfg.Ready = append(cfg.Ready, Check{Name: "stuck", Fn: func(context.Context) error { <-release; return nil }})
		cfg.CheckTimeout = 50 * time.Millisecond
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// failingPublisher fails while fail is set, else keeps what it publishes.
type failingPublisher struct {
	fail      *atomic.Bool
	published *publishedDecisions
}

func (p failingPublisher) PublishDecisions(_ context.Context, ds []*schemas.Decision) error {
	if p.fail.Load() {
		return errors.New("broker unreachable")
	}
	p.published.add(ds)
	return nil
}

// publishedDecisions are the decisions a fixture's recorder published.
type publishedDecisions struct {
	mu        sync.Mutex
	decisions []*schemas.Decision
}

func (p *publishedDecisions) add(ds []*schemas.Decision) {
	p.mu.Lock()
	p.decisions = append(p.decisions, ds...)
	p.mu.Unlock()
}

// find returns the published decisions match accepts.
func (p *publishedDecisions) find(match func(*schemas.Decision) bool) []*schemas.Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*schemas.Decision
	for _, d := range p.decisions {
		if match(d) {
			out = append(out, d)
		}
	}
	return out
}

func (f *fixture) setReady(err error) {
	f.readyMu.Lock()
	f.readyErr = err
	f.readyMu.Unlock()
}

// copyDefaultRules copies the shipped rule files into dir, so a test can
// break them and reload.
func copyDefaultRules(t testing.TB, dir string) {
	t.Helper()
	src := filepath.Join("..", "..", "rules", "default")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatalf("reading the shipped rules: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// request is one call to the API.
type request struct {
	method      string
	path        string // with the query, escaped as it goes on the wire
	token       string
	contentType string // default application/json when body is set
	body        []byte
}

// response is what the API answered.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// errorJSON decodes an error answer.
func (r response) errorJSON(t testing.TB) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("answer %d is not a JSON error: %s (%v)", r.code, r.body, err)
	}
	return e
}

// httpRequest builds req for the server at baseURL: a body is JSON
// unless req names another type, a token is a bearer token.
func (req request) httpRequest(t testing.TB, baseURL string) *http.Request {
	t.Helper()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequest(req.method, baseURL+req.path, body)
	if err != nil {
		t.Fatalf("building %s %s: %v", req.method, req.path, err)
	}
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	return hr
}

// expect stops the test when the answer's code is not code.
func (r response) expect(t testing.TB, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got %d %s, want %d", r.code, r.body, code)
	}
}

// expectField fails the test when the answer is not a JSON error naming
// field.
func (r response) expectField(t testing.TB, field string) {
	t.Helper()
	if e := r.errorJSON(t); e.Field != field {
		t.Errorf("field = %q, want %q", e.Field, field)
	}
}

func (f *fixture) do(req request) response {
	f.t.Helper()
	return send(f.t, f.ts.Client(), f.ts.URL, req)
}

// doRaw sends hr to the test server and returns the answer as net/http
// has it, its whole body read (failing t otherwise): for the tests of
// what request and response leave out (framing, custom headers).
func (f *fixture) doRaw(t testing.TB, hr *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := f.ts.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", hr.Method, hr.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s %s: %v", hr.Method, hr.URL.Path, err)
	}
	return resp, data
}

// send sends req with client to the server at baseURL and reads the
// whole answer.
func send(t testing.TB, client *http.Client, baseURL string, req request) response {
	t.Helper()
	resp, err := client.Do(req.httpRequest(t, baseURL))
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s %s: %v", req.method, req.path, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: data}
}

// event is a LoginEvent body for tests; the zero fields get defaults.
type event struct {
	id      string
	user    string
	ip      string
	outcome string
	at      time.Time
	tenant  string // tenant_id; none when empty
}

func (e event) json() []byte {
	if e.user == "" {
		e.user = "alice@example.com"
	}
	if e.ip == "" {
		e.ip = "198.51.100.7"
	}
	if e.outcome == "" {
		e.outcome = "success"
	}
	if e.at.IsZero() {
		e.at = testNow.Add(-time.Minute)
	}
	m := map[string]any{
		"event_id": e.id, "user_id": e.user, "ip": e.ip, "outcome": e.outcome,
		"occurred_at": e.at.Format(time.RFC3339Nano), "user_agent": browserUA, "auth_method": "password",
	}
	if e.outcome == "failure" {
		m["failure_reason"] = "bad_password"
	}
	if e.tenant != "" {
		m["tenant_id"] = e.tenant
	}
	data, _ := json.Marshal(m)
	return data
}

// score posts an event and decodes the decision, failing on anything but 200.
func (f *fixture) score(e event, dryRun bool) schemas.Decision {
	f.t.Helper()
	path := "/v1/score"
	if dryRun {
		path += "?dry_run=true"
	}
	resp := f.do(request{method: "POST", path: path, token: scoreToken, body: e.json()})
	if resp.code != http.StatusOK {
		f.t.Fatalf("scoring %s: %d %s", e.id, resp.code, resp.body)
	}
	var d schemas.Decision
	if err := json.Unmarshal(resp.body, &d); err != nil {
		f.t.Fatalf("decoding the decision for %s: %v", e.id, err)
	}
	return d
}

// status gets a user's or an address's status ("users/alice" or "ips/1.2.3.4").
func (f *fixture) status(what string) engine.Status {
	f.t.Helper()
	resp := f.do(request{method: "GET", path: "/v1/" + what + "/status", token: readToken})
	if resp.code != http.StatusOK {
		f.t.Fatalf("status of %s: %d %s", what, resp.code, resp.body)
	}
	var st engine.Status
	if err := json.Unmarshal(resp.body, &st); err != nil {
		f.t.Fatalf("decoding the status of %s: %v", what, err)
	}
	return st
}

// bruteForce posts five failures for user from ip, a minute apart and
// ending a minute before the clock, and returns the last decision.
func (f *fixture) bruteForce(user, ip string) schemas.Decision {
	f.t.Helper()
	var d schemas.Decision
	for i := range 5 {
		d = f.score(event{id: fmt.Sprintf("bf-%s-%s-%d", user, ip, i), user: user, ip: ip, outcome: "failure",
			at: testNow.Add(time.Duration(i-5) * time.Minute)}, false)
	}
	return d
}

// fillBacklog queues dummy scored events until the engine's recording
// backlog is full (nothing drains it in these tests).
func fillBacklog(t testing.TB, eng *engine.Engine) {
	t.Helper()
	d := &schemas.Decision{EventID: "filler"}
	for i := 0; ; i++ {
		place, err := eng.Reserve()
		if err != nil {
			if !errors.Is(err, engine.ErrBacklogFull) {
				t.Fatalf("Reserve: %v", err)
			}
			return
		}
		place.Submit(schemas.ScoredEvent{Decision: d})
		if i > 10_000_000 {
			t.Fatal("the backlog never filled")
		}
	}
}
