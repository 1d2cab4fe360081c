// Package httpapi is the engine's synchronous HTTP adapter: the login
// gateway scores an attempt and asks whether a user or an address is locked,
// operators lift locks and reload rules, and orchestrators probe health,
// readiness and Prometheus metrics. It also serves the security team's web
// console under /ui/ (ui.go, console.go, docs/console.md).
// schemas/openapi.yaml describes every route; a test holds the server to it.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas"
)

// Role is what a bearer token may do.
type Role string

// The roles. Score is the gateway's (score attempts and read status), Read
// a dashboard's (status, decisions and rules), Analyst a security
// analyst's (what Read reads, and labelling decisions: POST
// /v1/decisions/{event_id}/feedback), Admin everything, including lifting
// locks, labelling decisions and reloading rules.
const (
	RoleScore   Role = "score"
	RoleRead    Role = "read"
	RoleAnalyst Role = "analyst"
	RoleAdmin   Role = "admin"
)

// Roles returns the roles, least to most powerful.
func Roles() []Role { return []Role{RoleScore, RoleRead, RoleAnalyst, RoleAdmin} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// rolesList is the roles for error messages: "score, read, analyst, admin".
func rolesList() string {
	names := make([]string, 0, 4)
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// Token is one bearer token the server accepts.
type Token struct {
	// Name identifies the token in logs and is recorded as the actor of
	// the locks it lifts; it is never the secret.
	Name string
	// Secret is the bearer token itself, at least MinSecretLen bytes.
	Secret string
	Role   Role
}

// MinSecretLen is the shortest token secret New accepts.
const MinSecretLen = 16

// Check is one readiness check, e.g. "rules loaded", "kafka reachable",
// "history writer healthy". Fn returns nil when ready; it must honour ctx.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	// Engine scores and answers status lookups. Required.
	Engine *engine.Engine
	// Tokens are the accepted bearer tokens; at least one is required:
	// only /healthz and /readyz are open (and /metrics with MetricsOpen).
	Tokens []Token
	// MaxBodyBytes bounds a request body (default and maximum: one
	// LoginEvent, schemas.MaxEventBytes = 64 KiB); a larger one gets 413.
	MaxBodyBytes int64
	// Timeouts of the listener (Serve). Defaults: ReadHeaderTimeout 5 s,
	// ReadTimeout 10 s, WriteTimeout 10 s, IdleTimeout 120 s,
	// ShutdownTimeout 10 s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// CheckTimeout bounds each readiness check (default 2 s).
	CheckTimeout time.Duration
	// Logger receives server errors, lifted locks and rule reloads
	// (default: discard).
	Logger *slog.Logger
	// Clock is the time at which status lookups and lifts are evaluated
	// (default time.Now).
	Clock func() time.Time
	// Reload reloads the rules for POST /v1/rules/reload; its error is
	// shown to the caller and the previous set stays in use. Nil: the
	// route answers 501.
	Reload func() error
	// Ready are the checks of GET /readyz.
	Ready []Check
	// Registry receives the server's and the engine's collectors and
	// Collectors; GET /metrics serves it. Nil: a new registry with the Go
	// and process collectors.
	Registry *prometheus.Registry
	// MetricsOpen serves GET /metrics without a token. By default it needs
	// a token of the read or admin role: the counts of rule hits tell an
	// attacker which rules a spray trips. Open it only on a listener that
	// only the scraper reaches.
	MetricsOpen bool
	// MetricsOwnListener serves GET /metrics only through MetricsHandler
	// (on a listener of its own, such as a loopback port for a local
	// scraper); the API's handler then answers it 404.
	MetricsOwnListener bool
	// Collectors are registered too: the Kafka and history adapters'.
	Collectors []prometheus.Collector
	// RecentDecisions is the engine's recent_decisions setting, quoted in
	// the 404 of GET /v1/decisions/{event_id}; 0 leaves it out.
	RecentDecisions int
	// History runs the analyst queries behind the console's timelines;
	// nil: no history (the console says so and shows what memory holds).
	History HistoryQuery
	// RulesStatus reports the last rules reload for the console; nil
	// leaves it out.
	RulesStatus func() RulesStatus
	// Owners says which instance owns a user's partition: POST /v1/score
	// and GET /v1/users/{user_id}/status about a user another instance
	// owns are forwarded to it (forward.go). Nil: every request is
	// answered from local state.
	Owners engine.OwnerDirectory
	// ForwardTimeout bounds a forwarded request, connecting included
	// (default DefaultForwardTimeout); past it the answer is local state,
	// marked with HeaderOwnerUnreachable.
	ForwardTimeout time.Duration
}

// DefaultConfig is the one place the server's defaults are written; New
// fills every zero field of its Config from it.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:      schemas.MaxEventBytes,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   10 * time.Second,
		CheckTimeout:      2 * time.Second,
		ForwardTimeout:    DefaultForwardTimeout,
	}
}

func (c *Config) setDefaults() {
	defaults.Fill(c, DefaultConfig())
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// Validate reports everything wrong with the configuration: an engine
// and at least one token are required, and ValidateSettings.
func (c *Config) Validate() error {
	var errs []error
	if c.Engine == nil {
		errs = append(errs, errors.New("httpapi: an engine is required"))
	}
	if len(c.Tokens) == 0 {
		errs = append(errs, errors.New("http.tokens: at least one token is required (only /healthz and /readyz are open)"))
	}
	errs = append(errs, c.ValidateSettings())
	for i, ch := range c.Ready {
		if ch.Name == "" || ch.Fn == nil {
			errs = append(errs, fmt.Errorf("httpapi: readiness check %d needs a name and a function", i))
		}
	}
	if c.RecentDecisions < 0 {
		errs = append(errs, fmt.Errorf("httpapi: recent_decisions %d must not be negative", c.RecentDecisions))
	}
	return errors.Join(errs...)
}

// ValidateSettings reports every token, body bound or timeout that is
// wrong, naming each by its key (http.…): the one check of the HTTP
// settings, for New and for the command's configuration alike, which
// leaves out what only a running server needs (the engine, at least one
// token: the command generates one when none is configured).
func (c *Config) ValidateSettings() error {
	var errs []error
	names := make(map[string]int, len(c.Tokens))
	secrets := make(map[string]int, len(c.Tokens))
	for i, t := range c.Tokens {
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("http.tokens[%d].name: is required", i))
		} else if j, dup := names[t.Name]; dup {
			errs = append(errs, fmt.Errorf("http.tokens[%d].name: %q is also the name of http.tokens[%d]", i, t.Name, j))
		} else {
			names[t.Name] = i
		}
		if !t.Role.Valid() {
			errs = append(errs, fmt.Errorf("http.tokens[%d].role: %q is not one of %s", i, t.Role, rolesList()))
		}
		if len(t.Secret) < MinSecretLen {
			errs = append(errs, fmt.Errorf("http.tokens[%d].token: must be at least %d characters", i, MinSecretLen))
		} else if j, dup := secrets[t.Secret]; dup {
			errs = append(errs, fmt.Errorf("http.tokens[%d].token: is the same as http.tokens[%d].token", i, j))
		} else {
			secrets[t.Secret] = i
		}
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > schemas.MaxEventBytes {
		errs = append(errs, fmt.Errorf("http.max_body_bytes: %d is outside 1024..%d (the largest LoginEvent)", c.MaxBodyBytes, schemas.MaxEventBytes))
	}
	for name, d := range map[string]time.Duration{
		"read_header_timeout": c.ReadHeaderTimeout, "read_timeout": c.ReadTimeout, "write_timeout": c.WriteTimeout,
		"idle_timeout": c.IdleTimeout, "shutdown_timeout": c.ShutdownTimeout, "check_timeout": c.CheckTimeout,
		"forward_timeout": c.ForwardTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("http.%s: %s must not be negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// credential is a configured token ready for constant-time matching.
type credential struct {
	name  string
	role  Role
	roles roleSet // the single bit of role
	sum   [sha256.Size]byte
}

// Server is the HTTP API. Its Handler is safe for concurrent use.
type Server struct {
	cfg     Config
	eng     *engine.Engine
	log     *slog.Logger
	now     func() time.Time
	creds   []credential
	handler http.Handler
	bufs    sync.Pool // *[]byte: request bodies and encoded responses
	metrics *Metrics
	// metricsHandler serves the registry on GET /metrics.
	metricsHandler http.Handler
	// metricsMux serves GET /metrics alone, for its own listener.
	metricsMux http.Handler
	// reloadMu makes concurrent reload requests take turns, so each
	// answer's previous_version is the set it replaced.
	reloadMu sync.Mutex
	// owners and fwd forward requests about users another instance
	// owns; owners is nil when nothing is forwarded.
	owners engine.OwnerDirectory
	fwd    *http.Client
}

// New checks the configuration, registers the metrics and builds the
// routes. It does not listen: see Serve and Handler.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, eng: cfg.Engine, log: cfg.Logger, now: cfg.Clock, owners: cfg.Owners}
	if s.owners != nil {
		s.fwd = newForwardClient(cfg.ForwardTimeout)
	}
	s.bufs.New = func() any {
		b := make([]byte, 0, 4096)
		return &b
	}
	for _, t := range cfg.Tokens {
		s.creds = append(s.creds, credential{name: t.Name, role: t.Role, roles: roleBit(t.Role), sum: sha256.Sum256([]byte(t.Secret))})
	}
	s.cfg.Tokens = nil // only the hashes are kept
	s.metrics = newMetrics()
	isMetrics := func(rt *route) bool { return rt.pattern == metricsPattern }
	s.handler = s.buildMux(func(rt *route) bool { return !cfg.MetricsOwnListener || !isMetrics(rt) })
	s.metricsMux = s.buildMux(isMetrics)

	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		cfg.Collectors = append(cfg.Collectors, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	all := append([]prometheus.Collector{s.metrics, newEngineCollector(s.eng)}, cfg.Collectors...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: registering metrics: %w", err)
		}
	}
	s.cfg.Registry = reg
	s.metricsHandler = promhttpHandler(reg, s.log)
	return s, nil
}

// Handler returns the API's handler, for tests and for embedding in
// another server.
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler returns a handler of GET /metrics alone (with the same
// token rule as on the API), for a listener of its own; see
// Config.MetricsOwnListener and ServeMetricsListener.
func (s *Server) MetricsHandler() http.Handler { return s.metricsMux }

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve listens on addr (host:port) and serves the API until ctx ends, over
// TLS when tlsCert and tlsKey name a PEM certificate and key. On
// cancellation it stops accepting, lets requests in flight finish (bounded
// by ShutdownTimeout) and returns nil.
func (s *Server) Serve(ctx context.Context, addr, tlsCert, tlsKey string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("http api: listening on %s: %w", addr, err)
	}
	return s.ServeListener(ctx, ln, tlsCert, tlsKey)
}

// ServeListener is Serve on a listener the caller opened (e.g. on port 0);
// it closes ln.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener, tlsCert, tlsKey string) error {
	return s.serve(ctx, ln, s.handler, "http api", tlsCert, tlsKey)
}

// ServeMetricsListener serves MetricsHandler on ln, as ServeListener
// serves the API.
func (s *Server) ServeMetricsListener(ctx context.Context, ln net.Listener, tlsCert, tlsKey string) error {
	return s.serve(ctx, ln, s.metricsMux, "http metrics", tlsCert, tlsKey)
}

// serve serves handler on ln until ctx ends; what names the listener in
// logs and errors.
func (s *Server) serve(ctx context.Context, ln net.Listener, handler http.Handler, what, tlsCert, tlsKey string) error {
	if (tlsCert == "") != (tlsKey == "") {
		ln.Close()
		return errors.New(what + ": the TLS certificate and key must be given together")
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%s: loading TLS certificate %s: %w", what, tlsCert, err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	s.log.Info(what+" listening", "addr", ln.Addr().String(), "tls", tlsCert != "")

	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
			return
		}
		done <- srv.Serve(ln)
	}()
	select {
	case err := <-done:
		return fmt.Errorf("%s: %w", what, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn(what+": requests still in flight at the shutdown timeout; closing", "timeout", s.cfg.ShutdownTimeout, "err", err)
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
