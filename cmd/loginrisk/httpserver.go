package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/httpapi"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// httpServer is the running HTTP API with the goroutines that serve it:
// the listener, the recorder of HTTP-scored events and the follower of
// the decisions topic (the replicated lock table).
type httpServer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// url is the API's base URL (http://host:port), empty without one;
	// tokenFile holds the admin token made for this run, if one was.
	url, tokenFile string
}

// shutdown stops the listener and the recorder (which records what is
// still queued) and waits for them.
func (s *httpServer) shutdown() {
	s.cancel()
	s.wg.Wait()
}

// startHTTP starts the API when http.addr is set. Without configured
// tokens it uses token (or a generated one) as an admin token, writes it
// to http.token_file (mode 0600) and prints that file's path and a curl
// command that reads it, never the token: stderr is the log. The file is
// removed at shutdown.
func startHTTP(ctx context.Context, cfg Config, c *core, stream *kafkastream.Stream, h *history.Writer, log *slog.Logger, stderr io.Writer, token string) (*httpServer, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &httpServer{cancel: cancel}
	// Every instance follows the decisions topic, so a lock set by another
	// instance (or lifted by an admin there) is seen here too.
	if stream != nil {
		s.wg.Go(func() {
			if err := stream.FollowDecisions(ctx, time.Now().Add(-24*time.Hour), c.engine.ApplyDecision); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("following the decisions topic stopped", "err", err)
			}
		})
	}
	s.wg.Go(func() { _ = c.engine.RunRecorder(ctx, 10*time.Second) })
	if cfg.HTTP.Addr == "" {
		return s, nil
	}
	api := cfg.HTTP.apiConfig()
	tokenFile := ""
	if len(api.Tokens) == 0 {
		if token == "" {
			token = newAdminToken()
		}
		tokenFile = cfg.HTTP.TokenFile
		if tokenFile == "" {
			var err error
			if tokenFile, err = defaultTokenFile(); err != nil {
				cancel()
				return nil, err
			}
		}
		if err := writeTokenFile(tokenFile, token); err != nil {
			cancel()
			return nil, err
		}
		s.wg.Go(func() {
			<-ctx.Done()
			_ = os.Remove(tokenFile)
		})
		api.Tokens = []httpapi.Token{{Name: "local-admin", Secret: token, Role: httpapi.RoleAdmin}}
		s.tokenFile = tokenFile
	}
	ready := []httpapi.Check{{Name: "rules", Fn: func(context.Context) error {
		if c.rules.Current() == nil {
			return errors.New("no rules loaded")
		}
		return nil
	}}}
	if stream != nil {
		ready = append(ready, httpapi.Check{Name: "kafka", Fn: stream.Ping})
	}
	if h != nil {
		ready = append(ready, httpapi.Check{Name: "history", Fn: func(context.Context) error {
			if ok, why := h.Healthy(); !ok {
				return errors.New(why)
			}
			return nil
		}})
	}
	var historyQuery httpapi.HistoryQuery
	if h != nil {
		historyQuery = func(ctx context.Context, name string, params map[string]string) ([]string, [][]string, error) {
			return history.RunQueryText(ctx, string(cfg.ClickHouse.DSN), name, params)
		}
	}
	collectors := []prometheus.Collector{newStateCollector(c.store)}
	if stream != nil {
		collectors = append(collectors, followerCollectors(stream.Metrics())...)
		collectors = append(collectors, addressCollectors(stream.Metrics())...)
	}
	api.Engine, api.Logger, api.Reload, api.Ready = c.engine, log, c.rules.Reload, ready
	api.Registry, api.Collectors = prometheus.NewRegistry(), collectors
	api.History, api.RulesStatus = historyQuery, httpapi.RulesStatusOf(c.rules)
	if stream != nil {
		api.Owners = stream.Instances() // forward requests about other instances' users
	}
	srv, err := httpapi.New(api)
	if err != nil {
		cancel()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("http.addr %s: %w", cfg.HTTP.Addr, err)
	}
	s.url = "http://" + ln.Addr().String()
	if cfg.HTTP.TLSCert != "" {
		s.url = "https://" + ln.Addr().String()
	}
	if stream != nil {
		// The other instances forward requests about this one's users
		// to the address it announces.
		advertise, err := advertiseURL(cfg.HTTP.Advertise, ln.Addr(), cfg.HTTP.TLSCert != "")
		if err != nil {
			cancel()
			ln.Close()
			return nil, err
		}
		s.wg.Go(func() {
			if err := stream.RunInstances(ctx, advertise); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("announcing this instance stopped", "err", err)
			}
		})
		log.Info("answering for users other instances own by forwarding to them", "advertise", advertise, "instance", stream.Instances().Self(), "forward_timeout", cfg.HTTP.ForwardTimeout)
	}
	if cfg.HTTP.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.HTTP.MetricsAddr)
		if err != nil {
			cancel()
			ln.Close()
			return nil, fmt.Errorf("http.metrics_addr %s: %w", cfg.HTTP.MetricsAddr, err)
		}
		fmt.Fprintf(stderr, "http: metrics on http://%s/metrics\n", mln.Addr())
		s.wg.Go(func() {
			if err := srv.ServeMetricsListener(ctx, mln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("http metrics server stopped", "err", err)
			}
		})
	}
	fmt.Fprintf(stderr, "http: API on http://%s\n", ln.Addr())
	if tokenFile != "" {
		fmt.Fprintf(stderr, "http: no tokens configured; the admin token for this run is in %s (mode 0600)\n", tokenFile)
		fmt.Fprintf(stderr, "http: try: curl -s -H \"Authorization: Bearer $(cat %s)\" http://%s/v1/rules\n", shellQuote(tokenFile), ln.Addr())
	}
	s.wg.Go(func() {
		if err := srv.ServeListener(ctx, ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("http server stopped", "err", err)
		}
	})
	return s, nil
}

// maxForwardTimeout bounds http.forward_timeout: a forward is on the
// gateway's synchronous path.
const maxForwardTimeout = 5 * time.Second

// advertiseURL is the base URL other instances forward requests to: the
// configured http.advertise (http://host:port, https://host:port, or
// host:port whose scheme follows http.tls_cert), else the listener's
// address ln, with this machine's host name when it listens on every
// address. ln may be nil when only a configured value is checked.
func advertiseURL(configured string, ln net.Addr, tls bool) (string, error) {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if configured != "" {
		raw := configured
		if !strings.Contains(raw, "://") {
			raw = scheme + "://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return "", fmt.Errorf("http.advertise: %q is not host:port or http(s)://host:port", configured)
		}
		return u.Scheme + "://" + u.Host, nil
	}
	if ln == nil {
		return "", errors.New("http.advertise: empty, and no listener to derive it from")
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return "", fmt.Errorf("http.advertise: deriving it from the listener %s: %w", ln, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		name, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("http.advertise: empty, and this machine's host name is unknown: %w", err)
		}
		host = name
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// followerCollectors export the decisions follower's counters: the
// other instances' lock decisions applied, and by reason those that were
// not (docs/security.md).
func followerCollectors(m *kafkastream.Metrics) []prometheus.Collector {
	counter := func(name, help string, labels prometheus.Labels, c *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 { return float64(c.Load()) })
	}
	const notApplied = "loginrisk_decisions_not_applied_total"
	const notAppliedHelp = "Lock decisions read back from the decisions topic and not applied, by reason: unsigned (no MAC), bad_mac (a MAC that does not verify under kafka.decision_keys), refused (a lock the engine could not have set), undecodable."
	return []prometheus.Collector{
		counter("loginrisk_decisions_followed_total", "Other instances' lock decisions read back from the decisions topic and applied.", nil, &m.DecisionsFollowed),
		counter(notApplied, notAppliedHelp, prometheus.Labels{"reason": "unsigned"}, &m.DecisionsUnsigned),
		counter(notApplied, notAppliedHelp, prometheus.Labels{"reason": "bad_mac"}, &m.DecisionsBadMAC),
		counter(notApplied, notAppliedHelp, prometheus.Labels{"reason": "refused"}, &m.DecisionsRefused),
		counter(notApplied, notAppliedHelp, prometheus.Labels{"reason": "undecodable"}, &m.DecisionsUndecodable),
	}
}
