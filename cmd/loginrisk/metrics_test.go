package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var metricsLine = regexp.MustCompile(`http: metrics on (http://\S+)/metrics`)

// TestServeMetricsModes runs serve in each metrics mode: by default
// /metrics needs a token of the read role (rule hit counts are not public,
// issue 16); http.metrics_addr moves it to a listener of its own, where
// http.metrics_auth: none serves a local scraper without a token.
func TestServeMetricsModes(t *testing.T) {
	t.Run("default: behind the read role", func(t *testing.T) {
		tokenFile := filepath.Join(t.TempDir(), "token")
		s := startServe(t, "http: {token_file: "+tokenFile+"}\n")
		if code, body := httpGet(t, s.api+"/metrics", ""); code != 401 || strings.Contains(body, "loginrisk_") {
			t.Errorf("anonymous GET /metrics = %d %.100s, want 401", code, body)
		}
		token, err := os.ReadFile(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := httpGet(t, s.api+"/metrics", strings.TrimSpace(string(token))); code != 200 || !strings.Contains(body, "loginrisk_events_scored_total") {
			t.Errorf("GET /metrics with the admin token = %d %.100s, want the metrics", code, body)
		}
	})
	t.Run("own loopback listener without a token", func(t *testing.T) {
		s := startServe(t, "http: {metrics_addr: 127.0.0.1:0, metrics_auth: none}\n")
		m := metricsLine.FindStringSubmatch(s.out.String())
		if m == nil {
			t.Fatalf("serve does not say where the metrics are:\n%s", s.out)
		}
		if code, body := httpGet(t, m[1]+"/metrics", ""); code != 200 || !strings.Contains(body, "loginrisk_events_scored_total") {
			t.Errorf("metrics listener GET /metrics = %d %.100s, want the metrics", code, body)
		}
		if code, _ := httpGet(t, s.api+"/metrics", ""); code != 404 {
			t.Errorf("API GET /metrics = %d, want 404 (moved)", code)
		}
	})
}

// TestCheckConfigMetricsExposure: anonymous metrics are refused on a
// listener beyond loopback.
func TestCheckConfigMetricsExposure(t *testing.T) {
	tokens := "  tokens:\n    - {name: gw, token: 0123456789abcdef01, role: score}\n"
	tests := []struct {
		name, yaml string
		wantErr    string // "" means valid
	}{
		{name: "default", yaml: "http:\n  addr: 0.0.0.0:8080\n" + tokens},
		{name: "none on the loopback API", yaml: "http:\n  metrics_auth: none\n"},
		{name: "none on a loopback metrics listener", yaml: "http:\n  addr: 0.0.0.0:8080\n  metrics_addr: 127.0.0.1:9100\n  metrics_auth: none\n" + tokens},
		{name: "none on a public API", yaml: "http:\n  addr: 0.0.0.0:8080\n  metrics_auth: none\n" + tokens,
			wantErr: "http.metrics_auth: none serves the metrics (rule hit counts among them) to anyone, but http.addr 0.0.0.0:8080 listens beyond loopback"},
		{name: "none on a public metrics listener", yaml: "http:\n  metrics_addr: :9100\n  metrics_auth: none\n",
			wantErr: "but http.metrics_addr :9100 listens beyond loopback"},
		{name: "read on a public metrics listener", yaml: "http:\n  metrics_addr: :9100\n"},
		{name: "unknown", yaml: "http:\n  metrics_auth: open\n", wantErr: `http.metrics_auth: "open" is not one of read, none`},
		{name: "bad address", yaml: "http:\n  metrics_addr: nine\n", wantErr: `http.metrics_addr: "nine" is not host:port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkConfig(t, "migrate", tc.yaml, tc.wantErr)
		})
	}
}
