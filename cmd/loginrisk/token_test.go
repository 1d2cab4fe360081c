package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/engine/testkit/syncbuf"
)

// runningServe is `loginrisk serve` running in the test.
type runningServe struct {
	out  *syncbuf.Buffer // stdout and stderr
	api  string          // http://host:port of the API
	stop func()          // stops serve and waits for it
}

var apiLine = regexp.MustCompile(`http: API on (http://\S+)`)

// startServe runs serve with a configuration of fresh topics, no
// ClickHouse, an API on a free loopback port, and extra YAML appended; it
// returns once the API listens.
func startServe(t *testing.T, extra string) *runningServe {
	t.Helper()
	return startServeNamed(t, testkit.Name("serve"), extra)
}

// startServeNamed is startServe with the group and topics named after
// name, so that two instances can share them.
func startServeNamed(t *testing.T, name, extra string) *runningServe {
	t.Helper()
	brokers, _ := testkit.Kafka(t)
	cfg := kafkaSection(brokers, name) + fmt.Sprintf(`  addresses_topic: %s-addresses
  decision_keys: [{id: test, secret: cmd-test-decision-key-0123456789abcdef}]
clickhouse: {dsn: "", migrate: false, warm_up: false}
log: {level: debug}
%s`, name, extra)
	path := writeFile(t, "loginrisk.yaml", cfg)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cmdServe(ctx, []string{"--config", path, "--http", "127.0.0.1:0"}, strings.NewReader(""), out, out)
	}()
	s := &runningServe{out: out, stop: func() { cancel(); <-done }}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(time.Minute)
	for {
		if m := apiLine.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "loginrisk serving") {
			s.api = m[1]
			return s
		}
		select {
		case <-done:
			t.Fatalf("serve stopped:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve's API did not start in a minute:\n%s", out)
		}
	}
}

// httpGet is a GET of url with an optional bearer token; it returns the
// status and the body.
func httpGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestGeneratedTokenGoesToAFile is the token attack of issue 16: without
// configured tokens, serve printed the admin token it made to stderr,
// which is the log. It now writes it to a 0600 file (http.token_file, by
// default in $XDG_RUNTIME_DIR) and prints only the path and a curl command
// that reads it; the file goes at shutdown.
func TestGeneratedTokenGoesToAFile(t *testing.T) {
	cases := []struct {
		name   string
		extra  func(dir string) string
		runDir bool // XDG_RUNTIME_DIR set to a test folder
		want   func(dir string) string
	}{
		{name: "http.token_file",
			extra: func(dir string) string {
				return fmt.Sprintf("http: {token_file: %q}\n", filepath.Join(dir, "sub", "token"))
			},
			want: func(dir string) string { return filepath.Join(dir, "sub", "token") }},
		{name: "default in XDG_RUNTIME_DIR", runDir: true,
			extra: func(string) string { return "" },
			want:  func(dir string) string { return filepath.Join(dir, tokenFileName) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.runDir {
				t.Setenv("XDG_RUNTIME_DIR", dir)
			}
			path := tc.want(dir)
			s := startServe(t, tc.extra(dir))
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("no token file: %v\n%s", err, s.out)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("token file mode %o, want 600", mode)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			token := strings.TrimSpace(string(data))
			if len(token) != 32 {
				t.Fatalf("token file holds %d characters, want a 32-digit token", len(token))
			}
			if code, body := httpGet(t, s.api+"/v1/rules", token); code != http.StatusOK {
				t.Errorf("the file's token: GET /v1/rules = %d %s", code, body)
			}
			out := s.out.String()
			wantCurl := fmt.Sprintf(`curl -s -H "Authorization: Bearer $(cat %s)" %s/v1/rules`, path, s.api)
			if !strings.Contains(out, "admin token for this run is in "+path) || !strings.Contains(out, wantCurl) {
				t.Errorf("serve does not print the token file's path and the curl command %s:\n%s", wantCurl, out)
			}
			s.stop()
			if out := s.out.String(); strings.Contains(out, token) {
				t.Errorf("the output (the log) shows the token:\n%s", out)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("token file after shutdown: %v, want it removed", err)
			}
		})
	}
}
