package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/loginrisk/loginrisk/engine/httpapi"
)

// HTTPConfig is the http section: the listeners, which the command opens,
// and the server's settings, which apiConfig hands to httpapi (which owns
// their defaults and checks).
type HTTPConfig struct {
	Addr         string        `yaml:"addr"`
	Tokens       []TokenConfig `yaml:"tokens"`
	TLSCert      string        `yaml:"tls_cert"`
	TLSKey       string        `yaml:"tls_key"`
	MaxBodyBytes int64         `yaml:"max_body_bytes"`
	// TokenFile is where the admin token generated when Tokens is empty
	// is written (mode 0600); only its path is printed. Empty:
	// $XDG_RUNTIME_DIR/loginrisk-admin-token, else
	// ~/.cache/loginrisk/admin-token (defaultTokenFile).
	TokenFile string `yaml:"token_file"`
	// MetricsAddr, when set, serves GET /metrics on a listener of its own
	// (host:port) instead of Addr.
	MetricsAddr string `yaml:"metrics_addr"`
	// MetricsAuth is who may read GET /metrics: "read" (the default) a
	// token of the read or admin role; "none" anyone, which Validate
	// allows only on a loopback listener. Rule hit counts tell an
	// attacker which rules a spray trips.
	MetricsAuth string `yaml:"metrics_auth"`
	// Advertise is the base URL (http://host:port, or host:port) at
	// which the other instances reach this one's API to forward a
	// request about a user it owns. Empty: derived from the listener,
	// with the host name when it listens on every address
	// (advertiseURL).
	Advertise string `yaml:"advertise"`
	// ForwardTimeout bounds a request forwarded to the user's owner;
	// past it the answer is local state, marked as such.
	ForwardTimeout time.Duration `yaml:"forward_timeout"`
}

// The values of http.metrics_auth.
const (
	metricsAuthRead = "read"
	metricsAuthNone = "none"
)

// TokenConfig is one bearer token and its role (score, read, analyst or admin).
type TokenConfig struct {
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
	Role  string `yaml:"role"`
}

// defaultHTTPConfig is the section before any file, env or flag.
func defaultHTTPConfig() HTTPConfig {
	return HTTPConfig{Addr: "127.0.0.1:8080", MaxBodyBytes: httpapi.DefaultConfig().MaxBodyBytes, MetricsAuth: metricsAuthRead, ForwardTimeout: httpapi.DefaultForwardTimeout}
}

// apiConfig is the server's configuration of this section: the tokens
// (an unnamed one is named by its place, token0…) and the settings; the
// caller adds the engine and the rest.
func (h HTTPConfig) apiConfig() httpapi.Config {
	tokens := make([]httpapi.Token, 0, len(h.Tokens))
	for i, t := range h.Tokens {
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("token%d", i)
		}
		tokens = append(tokens, httpapi.Token{Name: name, Secret: string(t.Token), Role: httpapi.Role(t.Role)})
	}
	return httpapi.Config{
		Tokens:       tokens,
		MaxBodyBytes: h.MaxBodyBytes,
		// Rule hit counts are for the read role, or for a loopback
		// listener (Validate).
		MetricsOpen:        h.MetricsAuth == metricsAuthNone,
		MetricsOwnListener: h.MetricsAddr != "",
		ForwardTimeout:     h.ForwardTimeout,
	}
}

// resolveSecrets replaces the tokens' file: and env: references with
// their values.
func (h *HTTPConfig) resolveSecrets() error {
	var errs []error
	for i := range h.Tokens {
		var err error
		if h.Tokens[i].Token, err = h.Tokens[i].Token.Resolve(fmt.Sprintf("http.tokens[%d].token", i)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Validate checks the listeners and, with the server's own checks
// (httpapi.Config.ValidateSettings), the tokens and the body bound. An
// empty addr (no API) has nothing to check.
func (h HTTPConfig) Validate() error {
	if h.Addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(h.Addr)
	if err != nil {
		return fmt.Errorf("http.addr: %q is not host:port", h.Addr)
	}
	api := h.apiConfig()
	errs := []error{api.ValidateSettings()}
	loopback := isLoopback(host)
	if !loopback && len(h.Tokens) == 0 {
		errs = append(errs, fmt.Errorf("http.addr: %s listens beyond loopback but http.tokens is empty; add tokens or listen on 127.0.0.1", h.Addr))
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		errs = append(errs, errors.New("http.tls_cert and http.tls_key must be set together"))
	}
	metricsField, metricsAddr, metricsLoopback := "http.addr", h.Addr, loopback
	if h.MetricsAddr != "" {
		metricsField, metricsAddr = "http.metrics_addr", h.MetricsAddr
		if host, _, err := net.SplitHostPort(h.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("http.metrics_addr: %q is not host:port", h.MetricsAddr))
		} else {
			metricsLoopback = isLoopback(host)
		}
	}
	if h.Advertise != "" {
		if _, err := advertiseURL(h.Advertise, nil, h.TLSCert != ""); err != nil {
			errs = append(errs, err)
		}
	}
	if h.ForwardTimeout <= 0 || h.ForwardTimeout > maxForwardTimeout {
		errs = append(errs, fmt.Errorf("http.forward_timeout: %s must be positive and at most %s", h.ForwardTimeout, maxForwardTimeout))
	}
	switch h.MetricsAuth {
	case metricsAuthRead:
	case metricsAuthNone:
		if !metricsLoopback {
			errs = append(errs, fmt.Errorf("http.metrics_auth: none serves the metrics (rule hit counts among them) to anyone, but %s %s listens beyond loopback; use read (a token of the read role) or a loopback http.metrics_addr", metricsField, metricsAddr))
		}
	default:
		errs = append(errs, fmt.Errorf("http.metrics_auth: %q is not one of read, none", h.MetricsAuth))
	}
	return errors.Join(errs...)
}

// isLoopback reports whether a listener's host (name or address) is
// loopback only: localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
