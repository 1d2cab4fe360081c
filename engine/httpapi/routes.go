package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// roleSet is a set of roles as bits.
type roleSet uint8

const (
	scoreBit roleSet = 1 << iota
	readBit
	analystBit
	adminBit

	open roleSet = 0 // no token needed
	// readers are the roles that read status, decisions, locks and rules.
	readers = readBit | analystBit | adminBit
)

func roleBit(r Role) roleSet {
	switch r {
	case RoleScore:
		return scoreBit
	case RoleRead:
		return readBit
	case RoleAnalyst:
		return analystBit
	case RoleAdmin:
		return adminBit
	}
	return 0
}

// route is one operation of the API. The table below is the only place
// routes are declared: the mux is built from it, and a test compares it
// with schemas/openapi.yaml.
type route struct {
	method string
	// pattern is the path in http.ServeMux syntax; a trailing "..."
	// wildcard matches the rest of the path, slashes included.
	pattern string
	// name labels the route's metrics; it is the OpenAPI operationId.
	name  string
	roles roleSet
	// handle answers the request and returns the status code it wrote.
	handle func(s *Server, w http.ResponseWriter, r *http.Request, caller *credential) int
}

// routeTable lists the API. Status lookups are open to the gateway's score
// role too: it asks "is this user locked?" before checking a password.
var routeTable = []route{
	{http.MethodPost, "/v1/score", "score", scoreBit | adminBit, (*Server).handleScore},
	{http.MethodGet, "/v1/users/{user_id}/status", "userStatus", scoreBit | readers, (*Server).handleUserStatus},
	{http.MethodGet, "/v1/ips/{ip}/status", "ipStatus", scoreBit | readers, (*Server).handleIPStatus},
	{http.MethodGet, "/v1/decisions/{event_id}", "decision", scoreBit | readers, (*Server).handleDecision},
	{http.MethodGet, "/v1/locks", "locks", readers, (*Server).handleLocks},
	{http.MethodGet, "/v1/attack-mode", "attackMode", readers, (*Server).handleAttackMode},
	// The console's endpoints (console.go) and its page (ui.go).
	{http.MethodGet, "/v1/console/whoami", "consoleWhoami", readers, (*Server).handleWhoami},
	{http.MethodGet, "/v1/console/live", "consoleLive", readers, (*Server).handleLive},
	{http.MethodGet, "/v1/console/decisions", "consoleDecisions", readers, (*Server).handleDecisions},
	{http.MethodGet, "/v1/console/decisions/{event_id}", "consoleDecision", readers, (*Server).handleConsoleDecision},
	{http.MethodGet, "/v1/console/users/{user_id}", "consoleUser", readers, (*Server).handleConsoleUser},
	{http.MethodGet, "/v1/console/ips/{ip}", "consoleAddress", readers, (*Server).handleConsoleAddress},
	{http.MethodGet, "/v1/console/rules", "consoleRules", readers, (*Server).handleConsoleRules},
	{http.MethodGet, "/ui/{path...}", "console", open, (*Server).handleUI},
	{http.MethodDelete, "/v1/locks/{scope}/{key...}", "liftLock", adminBit, (*Server).handleLift},
	{http.MethodPost, "/v1/decisions/{event_id}/feedback", "feedback", analystBit | adminBit, (*Server).handleFeedback},
	{http.MethodGet, "/v1/rules", "rules", readers, (*Server).handleRules},
	{http.MethodPost, "/v1/rules/reload", "reloadRules", adminBit, (*Server).handleReload},
	{http.MethodGet, "/healthz", "healthz", open, (*Server).handleHealthz},
	{http.MethodGet, "/readyz", "readyz", open, (*Server).handleReadyz},
	// /metrics needs the read role unless Config.MetricsOpen (routeRoles).
	{http.MethodGet, "/metrics", "metrics", readers, (*Server).handleMetrics},
}

// metricsPattern is the route of the Prometheus metrics.
const metricsPattern = "/metrics"

// routeRoles is who may call rt on this server: the table's roles, but
// anyone for /metrics when Config.MetricsOpen.
func (s *Server) routeRoles(rt *route) roleSet {
	if rt.pattern == metricsPattern && s.cfg.MetricsOpen {
		return open
	}
	return rt.roles
}

// Route names of the fallbacks, for metrics.
const (
	routeNotFound         = "not_found"
	routeMethodNotAllowed = "method_not_allowed"
)

// buildMux registers every route that serve accepts, a JSON 405 for each
// of their paths under a method it does not serve, and a JSON 404 for
// everything else.
func (s *Server) buildMux(serve func(*route) bool) http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for i := range routeTable {
		if !serve(&routeTable[i]) {
			continue
		}
		rt := routeTable[i]
		rt.roles = s.routeRoles(&rt)
		mux.Handle(rt.method+" "+rt.pattern, s.instrument(rt.name, func(w http.ResponseWriter, r *http.Request) int {
			return s.authorize(&rt, w, r)
		}))
		if _, seen := methods[rt.pattern]; !seen {
			paths = append(paths, rt.pattern)
		}
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
	}
	for _, p := range paths {
		allowed := methods[p]
		if slices.Contains(allowed, http.MethodGet) {
			allowed = append(allowed, http.MethodHead)
		}
		allow := strings.Join(allowed, ", ")
		mux.Handle(p, s.instrument(routeMethodNotAllowed, func(w http.ResponseWriter, r *http.Request) int {
			w.Header().Set("Allow", allow)
			return s.writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" is not allowed here; allowed: "+allow)
		}))
	}
	mux.Handle("/", s.instrument(routeNotFound, func(w http.ResponseWriter, r *http.Request) int {
		return s.writeError(w, http.StatusNotFound, "", "no route "+r.Method+" "+r.URL.Path+" (see schemas/openapi.yaml)")
	}))
	return mux
}

// instrument times a route's answers by status code.
func (s *Server) instrument(name string, h func(w http.ResponseWriter, r *http.Request) int) http.Handler {
	obs := s.metrics.route(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		code := http.StatusInternalServerError
		defer func() {
			// A panic in a handler (a bug) answers 500 in JSON, like any
			// server error, where net/http would drop the connection.
			if v := recover(); v != nil {
				s.log.Error("internal error: a request's handler panicked", "route", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				code = s.writeError(w, http.StatusInternalServerError, "", "internal error (a loginrisk bug; the stack is in its log)")
			}
			obs.observe(code, time.Since(start))
		}()
		code = h(w, r)
	})
}

// authorize checks the bearer token and its role, then hands over to the
// route's handler. An open route gets the caller of a valid token, if one
// is sent (GET /readyz shows more to the read role), and nil otherwise.
func (s *Server) authorize(rt *route, w http.ResponseWriter, r *http.Request) int {
	if rt.roles == open {
		var caller *credential
		if h := r.Header.Get("Authorization"); h != "" {
			caller = s.authenticate(h)
		}
		return rt.handle(s, w, r, caller)
	}
	caller := s.authenticate(r.Header.Get("Authorization"))
	if caller == nil {
		s.metrics.AuthFailures.Add(1)
		w.Header()["Www-Authenticate"] = wwwAuthenticate
		return s.writeError(w, http.StatusUnauthorized, "", "a valid bearer token is required (Authorization: Bearer <token>)")
	}
	if rt.roles&caller.roles == 0 {
		s.metrics.AuthFailures.Add(1)
		return s.writeError(w, http.StatusForbidden, "", "token "+caller.name+" has role "+string(caller.role)+", which may not call "+rt.method+" "+rt.pattern)
	}
	return rt.handle(s, w, r, caller)
}

var wwwAuthenticate = []string{`Bearer realm="loginrisk"`}

// authenticate returns the credential an Authorization header presents, or
// nil. The presented token is hashed so every comparison is between equal
// lengths (subtle.ConstantTimeCompare returns early on a length mismatch),
// and it is compared with every configured token without stopping at a
// match, so the time taken says nothing about which token, if any, matched.
func (s *Server) authenticate(header string) *credential {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return nil
	}
	token := strings.TrimSpace(header[len(prefix):])
	if token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	found, index := 0, 0
	for i := range s.creds {
		eq := subtle.ConstantTimeCompare(sum[:], s.creds[i].sum[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	if found == 0 {
		return nil
	}
	return &s.creds[index]
}
