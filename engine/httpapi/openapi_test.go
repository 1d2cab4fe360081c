package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/loginrisk/loginrisk/schemas"
)

var openAPIPath = filepath.Join("..", "..", "schemas", "openapi.yaml")

// loadDoc loads and validates schemas/openapi.yaml.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(openAPIPath)
	if err != nil {
		t.Fatalf("loading %s: %v", openAPIPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", openAPIPath, err)
	}
	return doc
}

// docPath turns a mux pattern into its OpenAPI path ("{key...}" → "{key}").
func docPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }

// TestOpenAPIRoutesMatchDocument fails when a route is registered but not
// documented, documented but not registered, or documented with other
// roles than it enforces.
func TestOpenAPIRoutesMatchDocument(t *testing.T) {
	doc := loadDoc(t)
	registered := map[string]*route{}
	for i := range routeTable {
		rt := &routeTable[i]
		registered[rt.method+" "+docPath(rt.pattern)] = rt
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	for key, rt := range registered {
		op, ok := documented[key]
		if !ok {
			t.Errorf("route %s is registered but missing from %s", key, openAPIPath)
			continue
		}
		if op.OperationID != rt.name {
			t.Errorf("route %s: operationId %q, want the route's metric name %q", key, op.OperationID, rt.name)
		}
		if got, want := documentedRoles(op), rolesText(rt.roles); got != want {
			t.Errorf("route %s: the document says %q, the server enforces %q", key, got, want)
		}
		if open := op.Security != nil && len(*op.Security) == 0; open != (rt.roles == 0) {
			t.Errorf("route %s: documented as open=%v, registered as open=%v", key, open, rt.roles == 0)
		}
	}
	for key := range documented {
		if _, ok := registered[key]; !ok {
			t.Errorf("%s documents %s, which no route serves", openAPIPath, key)
		}
	}
}

var rolesLine = regexp.MustCompile(`(?m)^(Roles?: [a-z, ]+\.|Open[.:])`)

// documentedRoles reads "Roles: score, admin." or "Open." (or "Open:") at
// the start of a line of an operation's description.
func documentedRoles(op *openapi3.Operation) string {
	m := rolesLine.FindString(op.Description)
	if strings.HasPrefix(m, "Open") {
		return "open"
	}
	_, list, _ := strings.Cut(strings.TrimSuffix(m, "."), ": ")
	return list
}

func rolesText(set roleSet) string {
	if set == open {
		return "open"
	}
	var names []string
	for _, r := range Roles() {
		if set&roleBit(r) != 0 {
			names = append(names, string(r))
		}
	}
	return strings.Join(names, ", ")
}

// conformance validates exchanges with a server against the document and
// remembers which documented answers were seen.
type conformance struct {
	t      *testing.T
	router routers.Router
	doc    *openapi3.T
	seen   map[string]map[string]bool // operationId → status → seen
}

func newConformance(t *testing.T) *conformance {
	// The console's files are text like the metrics: validate them as
	// strings, as kin-openapi does text/plain.
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		if openapi3filter.RegisteredBodyDecoder(ct) == nil {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.RegisteredBodyDecoder("text/plain"))
		}
	}
	doc := loadDoc(t)
	// Match requests to any server: the tests' servers listen on random ports.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{t: t, router: router, doc: doc, seen: map[string]map[string]bool{}}
}

// exchange sends req to f and checks the answer's code; it validates the
// request against the document when conforming says it is a well-formed
// request, and always validates the answer.
func (c *conformance) exchange(f *fixture, req request, wantCode int, conforming bool) response {
	t := c.t
	t.Helper()
	hr := req.httpRequest(t, "http://loginrisk.test")
	route, params, err := c.router.FindRoute(hr)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", req.method, req.path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: opts}
	if conforming {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s does not conform to the document: %v", req.method, req.path, err)
		}
	}

	resp := f.do(req)
	if resp.code != wantCode {
		t.Errorf("%s %s: got %d %s, want %d", req.method, req.path, resp.code, resp.body, wantCode)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.code,
		Header:                 resp.header,
		Body:                   io.NopCloser(bytes.NewReader(resp.body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("the answer to %s %s (%d %s) does not conform to the document: %v", req.method, req.path, resp.code, clip(string(resp.body)), err)
	}
	op := route.Operation.OperationID
	if c.seen[op] == nil {
		c.seen[op] = map[string]bool{}
	}
	c.seen[op][strconv.Itoa(resp.code)] = true
	return resp
}

// unseen lists the documented answers no exchange produced.
func (c *conformance) unseen() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, status := range op.Responses.Keys() {
				if !c.seen[op.OperationID][status] {
					out = append(out, method+" "+path+" "+status)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIConformance drives every route to every documented status and
// validates each request and answer against schemas/openapi.yaml.
func TestOpenAPIConformance(t *testing.T) {
	c := newConformance(t)
	f := newFixture(t, fixtureOptions{})
	f.bruteForce("ivan@example.com", "198.51.100.50")       // a lock to see and lift
	f.bruteForce("judy@example.com", "2001:db8:5:6::7")     // an IPv6 /64 lock
	kim := f.bruteForce("kim@example.com", "198.51.100.60") // a lock to label a false positive
	feedbackPath := "/v1/decisions/" + kim.EventID + "/feedback"
	const conforms, nonconforming = true, false
	scoreBody := event{id: "oa-1"}.json()
	type exchange struct {
		name       string
		req        request
		want       int
		conforming bool
		before     func()
	}
	lockKey := "ivan@example.com%7C198.51.100.50"
	exchanges := []exchange{
		{name: "score", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: scoreBody}, want: 200, conforming: conforms},
		{name: "score again", req: request{method: "POST", path: "/v1/score", token: adminToken, body: scoreBody}, want: 200, conforming: conforms},
		{name: "score dry run", req: request{method: "POST", path: "/v1/score?dry_run=true", token: scoreToken, body: event{id: "oa-2", outcome: "failure"}.json()}, want: 200, conforming: conforms},
		{name: "score charset", req: request{method: "POST", path: "/v1/score", token: scoreToken, contentType: "application/json; charset=utf-8", body: event{id: "oa-3"}.json()}, want: 200, conforming: conforms},
		{name: "score locked out", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "oa-4", user: "ivan@example.com", ip: "198.51.100.50", outcome: "success"}.json()}, want: 200, conforming: conforms},
		{name: "score bad ip", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "oa-5", ip: "300.1.1.1"}.json()}, want: 400, conforming: nonconforming},
		{name: "score missing field", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: []byte(`{"event_id":"oa-6"}`)}, want: 400, conforming: nonconforming},
		{name: "score no token", req: request{method: "POST", path: "/v1/score", body: scoreBody}, want: 401, conforming: nonconforming},
		{name: "score read role", req: request{method: "POST", path: "/v1/score", token: readToken, body: scoreBody}, want: 403, conforming: nonconforming},
		{name: "score too large", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: []byte(`{"pad":"` + strings.Repeat("x", 65<<10) + `"}`)}, want: 413, conforming: nonconforming},
		{name: "score text", req: request{method: "POST", path: "/v1/score", token: scoreToken, contentType: "text/plain", body: scoreBody}, want: 415, conforming: nonconforming},
		{name: "score conflict", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "oa-1", user: "mallory@example.com"}.json()}, want: 409, conforming: conforms},
		{name: "score skewed", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "oa-7", at: testNow.Add(time.Hour)}.json()}, want: 422, conforming: conforms},

		{name: "user status", req: request{method: "GET", path: "/v1/users/ivan@example.com/status", token: scoreToken}, want: 200, conforming: conforms},
		{name: "user status unknown", req: request{method: "GET", path: "/v1/users/nobody/status", token: readToken}, want: 200, conforming: conforms},
		{name: "user status too long", req: request{method: "GET", path: "/v1/users/" + strings.Repeat("u", 300) + "/status", token: readToken}, want: 400, conforming: nonconforming},
		{name: "user status no token", req: request{method: "GET", path: "/v1/users/ivan/status"}, want: 401, conforming: nonconforming},
		{name: "ip status", req: request{method: "GET", path: "/v1/ips/198.51.100.50/status", token: readToken}, want: 200, conforming: conforms},
		{name: "ip status v6", req: request{method: "GET", path: "/v1/ips/2001:db8:5:6::1/status", token: readToken}, want: 200, conforming: conforms},
		{name: "ip status bad ip", req: request{method: "GET", path: "/v1/ips/not-an-ip/status", token: readToken}, want: 400, conforming: nonconforming},
		{name: "ip status no token", req: request{method: "GET", path: "/v1/ips/198.51.100.50/status"}, want: 401, conforming: nonconforming},
		{name: "decision", req: request{method: "GET", path: "/v1/decisions/oa-1", token: readToken}, want: 200, conforming: conforms},
		{name: "decision with lock", req: request{method: "GET", path: "/v1/decisions/oa-4", token: scoreToken}, want: 200, conforming: conforms},
		{name: "decision unknown", req: request{method: "GET", path: "/v1/decisions/oa-2", token: readToken}, want: 404, conforming: conforms},
		{name: "decision id too long", req: request{method: "GET", path: "/v1/decisions/" + strings.Repeat("e", 129), token: readToken}, want: 400, conforming: nonconforming},
		{name: "decision no token", req: request{method: "GET", path: "/v1/decisions/oa-1"}, want: 401, conforming: nonconforming},

		{name: "locks", req: request{method: "GET", path: "/v1/locks", token: readToken}, want: 200, conforming: conforms},
		{name: "locks filtered", req: request{method: "GET", path: "/v1/locks?scope=user_ip&q=IVAN&limit=5", token: adminToken}, want: 200, conforming: conforms},
		{name: "locks bad scope", req: request{method: "GET", path: "/v1/locks?scope=planet", token: readToken}, want: 400, conforming: nonconforming},
		{name: "locks bad limit", req: request{method: "GET", path: "/v1/locks?limit=0", token: readToken}, want: 400, conforming: nonconforming},
		{name: "locks no token", req: request{method: "GET", path: "/v1/locks"}, want: 401, conforming: nonconforming},
		{name: "locks score role", req: request{method: "GET", path: "/v1/locks", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "whoami", req: request{method: "GET", path: "/v1/console/whoami", token: readToken}, want: 200, conforming: conforms},
		{name: "whoami no token", req: request{method: "GET", path: "/v1/console/whoami"}, want: 401, conforming: nonconforming},
		{name: "whoami score role", req: request{method: "GET", path: "/v1/console/whoami", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "live", req: request{method: "GET", path: "/v1/console/live", token: readToken}, want: 200, conforming: conforms},
		{name: "live no token", req: request{method: "GET", path: "/v1/console/live"}, want: 401, conforming: nonconforming},
		{name: "live score role", req: request{method: "GET", path: "/v1/console/live", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console decisions", req: request{method: "GET", path: "/v1/console/decisions", token: readToken}, want: 200, conforming: conforms},
		{name: "console decisions filtered", req: request{method: "GET", path: "/v1/console/decisions?outcome=lockout&user=ivan%40example.com&ip=198.51.100.0%2F24&rule=failure_burst&tenant=&limit=10", token: adminToken}, want: 200, conforming: conforms},
		{name: "console decisions bad outcome", req: request{method: "GET", path: "/v1/console/decisions?outcome=maybe", token: readToken}, want: 400, conforming: nonconforming},
		{name: "console decisions bad ip", req: request{method: "GET", path: "/v1/console/decisions?ip=nowhere", token: readToken}, want: 400, conforming: conforms},
		{name: "console decisions bad limit", req: request{method: "GET", path: "/v1/console/decisions?limit=5001", token: readToken}, want: 400, conforming: nonconforming},
		{name: "console decisions no token", req: request{method: "GET", path: "/v1/console/decisions"}, want: 401, conforming: nonconforming},
		{name: "console decisions score role", req: request{method: "GET", path: "/v1/console/decisions", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console decision", req: request{method: "GET", path: "/v1/console/decisions/oa-4", token: readToken}, want: 200, conforming: conforms},
		{name: "console decision unknown", req: request{method: "GET", path: "/v1/console/decisions/oa-2", token: readToken}, want: 404, conforming: conforms},
		{name: "console decision id too long", req: request{method: "GET", path: "/v1/console/decisions/" + strings.Repeat("e", 129), token: readToken}, want: 400, conforming: nonconforming},
		{name: "console decision no token", req: request{method: "GET", path: "/v1/console/decisions/oa-4"}, want: 401, conforming: nonconforming},
		{name: "console decision score role", req: request{method: "GET", path: "/v1/console/decisions/oa-4", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console user", req: request{method: "GET", path: "/v1/console/users/ivan@example.com", token: readToken}, want: 200, conforming: conforms},
		{name: "console user with tenant", req: request{method: "GET", path: "/v1/console/users/ivan@example.com?tenant=acme", token: readToken}, want: 200, conforming: conforms},
		{name: "console user too long", req: request{method: "GET", path: "/v1/console/users/" + strings.Repeat("u", 300), token: readToken}, want: 400, conforming: nonconforming},
		{name: "console user no token", req: request{method: "GET", path: "/v1/console/users/ivan"}, want: 401, conforming: nonconforming},
		{name: "console user score role", req: request{method: "GET", path: "/v1/console/users/ivan", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console address", req: request{method: "GET", path: "/v1/console/ips/198.51.100.50", token: readToken}, want: 200, conforming: conforms},
		{name: "console network", req: request{method: "GET", path: "/v1/console/ips/198.51.100.0%2F24", token: readToken}, want: 200, conforming: conforms},
		{name: "console v6 network", req: request{method: "GET", path: "/v1/console/ips/2001:db8:5:6::%2F64", token: readToken}, want: 200, conforming: conforms},
		{name: "console address bad", req: request{method: "GET", path: "/v1/console/ips/not-an-ip", token: readToken}, want: 400, conforming: conforms},
		{name: "console address no token", req: request{method: "GET", path: "/v1/console/ips/198.51.100.50"}, want: 401, conforming: nonconforming},
		{name: "console address score role", req: request{method: "GET", path: "/v1/console/ips/198.51.100.50", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console rules", req: request{method: "GET", path: "/v1/console/rules", token: readToken}, want: 200, conforming: conforms},
		{name: "console rules no token", req: request{method: "GET", path: "/v1/console/rules"}, want: 401, conforming: nonconforming},
		{name: "console rules score role", req: request{method: "GET", path: "/v1/console/rules", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "console page", req: request{method: "GET", path: "/ui/index.html"}, want: 200, conforming: conforms},
		{name: "console style", req: request{method: "GET", path: "/ui/console.css"}, want: 200, conforming: conforms},
		{name: "console missing file", req: request{method: "GET", path: "/ui/nothing.js"}, want: 404, conforming: conforms},

		{name: "feedback false positive", req: request{method: "POST", path: feedbackPath, token: analystToken, body: []byte(`{"label":"false_positive","note":"kim mistyped"}`)}, want: 200, conforming: conforms},
		{name: "feedback expected by admin", req: request{method: "POST", path: "/v1/decisions/oa-1/feedback", token: adminToken, body: []byte(`{"label":"expected"}`)}, want: 200, conforming: conforms},
		{name: "feedback bad label", req: request{method: "POST", path: feedbackPath, token: analystToken, body: []byte(`{"label":"fine"}`)}, want: 400, conforming: nonconforming},
		{name: "feedback no label", req: request{method: "POST", path: feedbackPath, token: analystToken, body: []byte(`{"note":"hm"}`)}, want: 400, conforming: nonconforming},
		{name: "feedback note number", req: request{method: "POST", path: feedbackPath, token: analystToken, body: []byte(`{"label":"expected","note":7}`)}, want: 400, conforming: nonconforming},
		{name: "feedback unknown decision", req: request{method: "POST", path: "/v1/decisions/oa-2/feedback", token: analystToken, body: []byte(`{"label":"expected"}`)}, want: 404, conforming: conforms},
		{name: "feedback text", req: request{method: "POST", path: feedbackPath, token: analystToken, contentType: "text/plain", body: []byte(`{"label":"expected"}`)}, want: 415, conforming: nonconforming},
		{name: "feedback no token", req: request{method: "POST", path: feedbackPath, body: []byte(`{"label":"expected"}`)}, want: 401, conforming: nonconforming},
		{name: "feedback read role", req: request{method: "POST", path: feedbackPath, token: readToken, body: []byte(`{"label":"expected"}`)}, want: 403, conforming: nonconforming},
		{name: "analyst reads decisions", req: request{method: "GET", path: "/v1/decisions/oa-1", token: analystToken}, want: 200, conforming: conforms},

		{name: "lift bad scope", req: request{method: "DELETE", path: "/v1/locks/planet/x", token: adminToken}, want: 400, conforming: nonconforming},
		{name: "lift no token", req: request{method: "DELETE", path: "/v1/locks/user_ip/" + lockKey}, want: 401, conforming: nonconforming},
		{name: "lift read role", req: request{method: "DELETE", path: "/v1/locks/user_ip/" + lockKey, token: readToken}, want: 403, conforming: nonconforming},
		{name: "lift", req: request{method: "DELETE", path: "/v1/locks/user_ip/" + lockKey, token: adminToken}, want: 200, conforming: conforms},
		{name: "lift again", req: request{method: "DELETE", path: "/v1/locks/user_ip/" + lockKey, token: adminToken}, want: 404, conforming: conforms},
		{name: "lift unrecorded", req: request{method: "DELETE", path: "/v1/locks/user_ip/judy@example.com%7C2001:db8:5:6::%2F64", token: adminToken}, want: 503, conforming: conforms,
			before: func() { f.failRecord.Store(true) }},

		{name: "feedback unrecorded", req: request{method: "POST", path: "/v1/decisions/oa-1/feedback", token: analystToken, body: []byte(`{"label":"expected"}`)}, want: 503, conforming: conforms},
		{name: "feedback recorded again", req: request{method: "POST", path: "/v1/decisions/oa-1/feedback", token: analystToken, body: []byte(`{"label":"expected"}`)}, want: 200, conforming: conforms,
			before: func() { f.failRecord.Store(false) }},

		{name: "attack mode", req: request{method: "GET", path: "/v1/attack-mode", token: readToken}, want: 200, conforming: conforms},
		{name: "attack mode no token", req: request{method: "GET", path: "/v1/attack-mode"}, want: 401, conforming: nonconforming},
		{name: "attack mode score role", req: request{method: "GET", path: "/v1/attack-mode", token: scoreToken}, want: 403, conforming: nonconforming},

		{name: "rules", req: request{method: "GET", path: "/v1/rules", token: readToken}, want: 200, conforming: conforms},
		{name: "rules no token", req: request{method: "GET", path: "/v1/rules"}, want: 401, conforming: nonconforming},
		{name: "rules score role", req: request{method: "GET", path: "/v1/rules", token: scoreToken}, want: 403, conforming: nonconforming},
		{name: "reload", req: request{method: "POST", path: "/v1/rules/reload", token: adminToken}, want: 200, conforming: conforms},
		{name: "reload no token", req: request{method: "POST", path: "/v1/rules/reload"}, want: 401, conforming: nonconforming},
		{name: "reload read role", req: request{method: "POST", path: "/v1/rules/reload", token: readToken}, want: 403, conforming: nonconforming},
		{name: "reload broken", req: request{method: "POST", path: "/v1/rules/reload", token: adminToken}, want: 422, conforming: conforms,
			before: func() {
				if err := os.WriteFile(filepath.Join(f.rulesDir, "broken.yaml"), []byte("rules:\n  - id: broken\n    when: nosuchfeature > 1\n    weight: 10\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}},

		{name: "healthz", req: request{method: "GET", path: "/healthz"}, want: 200, conforming: conforms},
		{name: "readyz", req: request{method: "GET", path: "/readyz"}, want: 200, conforming: conforms},
		{name: "readyz failing", req: request{method: "GET", path: "/readyz"}, want: 503, conforming: conforms,
			before: func() { f.setReady(errors.New("kafka: no broker reachable")) }},
		{name: "metrics", req: request{method: "GET", path: "/metrics", token: readToken}, want: 200, conforming: conforms},
		{name: "metrics no token", req: request{method: "GET", path: "/metrics"}, want: 401, conforming: nonconforming},
		{name: "metrics score role", req: request{method: "GET", path: "/metrics", token: scoreToken}, want: 403, conforming: nonconforming},

		{name: "score backlog full", req: request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "oa-8"}.json()}, want: 503, conforming: conforms,
			before: func() { fillBacklog(t, f.eng) }},
	}
	for _, ex := range exchanges {
		if ex.before != nil {
			ex.before()
		}
		resp := c.exchange(f, ex.req, ex.want, ex.conforming)
		if t.Failed() {
			t.Fatalf("stopping at %q: %d %s", ex.name, resp.code, resp.body)
		}
	}

	g := newFixture(t, fixtureOptions{noReload: true, noFeedback: true})
	c.exchange(g, request{method: "POST", path: "/v1/rules/reload", token: adminToken}, 501, true)
	c.exchange(g, request{method: "POST", path: "/v1/decisions/oa-1/feedback", token: analystToken, body: []byte(`{"label":"expected"}`)}, 501, true)

	if missing := c.unseen(); len(missing) > 0 {
		t.Errorf("documented answers no test produced:\n%s", strings.Join(missing, "\n"))
	}
}

// TestUnknownRoutesAnswerDocumentedErrors checks that the 404 and 405 of
// paths and methods outside the document are the document's Error, as
// JSON, a 405 with the methods the path allows.
func TestUnknownRoutesAnswerDocumentedErrors(t *testing.T) {
	doc := loadDoc(t)
	errSchema := doc.Components.Schemas["Error"].Value
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name      string
		method    string
		path      string
		wantCode  int
		wantAllow string
	}{
		{name: "unknown path", method: "GET", path: "/v1/nothing", wantCode: 404},
		{name: "unknown version", method: "GET", path: "/v2/score", wantCode: 404},
		{name: "unknown nested path", method: "GET", path: "/v1/users/bob", wantCode: 404},
		{name: "root", method: "GET", path: "/", wantCode: 404},
		{name: "wrong method", method: "PATCH", path: "/v1/score", wantCode: 405, wantAllow: "POST"},
		{name: "GET on score", method: "GET", path: "/v1/score", wantCode: 405, wantAllow: "POST"},
		{name: "PUT on status", method: "PUT", path: "/v1/users/bob/status", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "GET on a lock", method: "GET", path: "/v1/locks/user/bob", wantCode: 405, wantAllow: "DELETE"},
		{name: "DELETE on rules", method: "DELETE", path: "/v1/rules", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "POST on healthz", method: "POST", path: "/healthz", wantCode: 405, wantAllow: "GET, HEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(request{method: tc.method, path: tc.path, token: adminToken})
			resp.expect(t, tc.wantCode)
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := resp.header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			resp.errorJSON(t)
			var v any
			if err := json.Unmarshal(resp.body, &v); err != nil {
				t.Fatal(err)
			}
			if err := errSchema.VisitJSON(v); err != nil {
				t.Errorf("%s is not an Error: %v", resp.body, err)
			}
		})
	}
	if !slices.Contains(doc.Components.Schemas["Error"].Value.Required, "error") {
		t.Error("the Error schema should require error")
	}
}

// TestOpenAPILockScopes: the document's LockScope enum is exactly
// schemas.LockScopes, in its order, so user_untrusted is documented.
func TestOpenAPILockScopes(t *testing.T) {
	doc := loadDoc(t)
	ref, ok := doc.Components.Schemas["LockScope"]
	if !ok || ref.Value == nil {
		t.Fatal("no LockScope schema")
	}
	var got []schemas.LockScope
	for _, v := range ref.Value.Enum {
		s, _ := v.(string)
		got = append(got, schemas.LockScope(s))
	}
	if want := schemas.LockScopes(); !slices.Equal(got, want) {
		t.Errorf("OpenAPI LockScope enum %v, want %v", got, want)
	}
}
