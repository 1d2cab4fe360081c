package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestHTTPConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     HTTPConfig
		wantErr string
	}{
		{name: "loopback v4", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Rate: 10, Duration: time.Second}},
		{name: "loopback v6", cfg: HTTPConfig{URL: "http://[::1]:8080", Rate: 10, Duration: time.Second}},
		{name: "localhost", cfg: HTTPConfig{URL: "https://localhost:8443", Rate: 10, Duration: time.Second}},
		{name: "private address", cfg: HTTPConfig{URL: "http://10.0.0.5:8080", Rate: 10, Duration: time.Second}, wantErr: "not a loopback"},
		{name: "public name", cfg: HTTPConfig{URL: "http://example.com", Rate: 10, Duration: time.Second}, wantErr: "not a loopback"},
		{name: "not a url", cfg: HTTPConfig{URL: "127.0.0.1:8080", Rate: 10, Duration: time.Second}, wantErr: "not an http"},
		{name: "no rate", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Duration: time.Second}, wantErr: "rate 0"},
		{name: "rate too high", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Rate: MaxHTTPRate + 1, Duration: time.Second}, wantErr: "rate"},
		{name: "no duration", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Rate: 10}, wantErr: "duration"},
		{name: "too long", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Rate: 10, Duration: time.Hour}, wantErr: "duration"},
		{name: "too many requests", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Rate: MaxHTTPRate, Duration: MaxHTTPDuration}, wantErr: "more than"},
		{name: "relative path", cfg: HTTPConfig{URL: "http://127.0.0.1:8080", Path: "v1/score", Rate: 10, Duration: time.Second}, wantErr: "must start with /"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.setDefaults()
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// HTTPRequests makes n requests of each kind: score bodies are events with
// ids unique to the run, status requests are paths the API routes; an
// unknown kind is an error naming it.
func TestHTTPRequests(t *testing.T) {
	const n = 200
	for _, kind := range HTTPKinds() {
		t.Run(kind, func(t *testing.T) {
			reqs, err := HTTPRequests(kind, n, 50, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != n {
				t.Fatalf("%d requests, want %d", len(reqs), n)
			}
			ids := map[string]bool{}
			for _, r := range reqs {
				switch kind {
				case "score":
					var ev schemas.LoginEvent
					if err := json.Unmarshal(r, &ev); err != nil || ev.UserID == "" {
						t.Fatalf("body %s: %v", r, err)
					}
					if ids[ev.EventID] {
						t.Fatalf("event id %s twice", ev.EventID)
					}
					ids[ev.EventID] = true
				case "user-status":
					if !strings.HasPrefix(string(r), "/v1/users/") || !strings.HasSuffix(string(r), "/status") {
						t.Fatalf("path %s", r)
					}
				case "ip-status":
					if !strings.HasPrefix(string(r), "/v1/ips/") || !strings.HasSuffix(string(r), "/status") {
						t.Fatalf("path %s", r)
					}
				}
			}
		})
	}
	if _, err := HTTPRequests("nope", 1, 1, 1); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown kind: error %v, want one naming it", err)
	}
}
