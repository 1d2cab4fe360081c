package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
)

// privateService is a ClickHouse server or Kafka broker of the test's
// own, started by the project's script (scripts/clickhouse.sh or
// scripts/kafka.sh) on free loopback ports with a data folder in the
// test's temporary directory.
//
// The outage tests stop and restart a service. They must not do that to
// the shared one from services.sh: go test ./... runs other packages'
// tests at the same time, and a ClickHouse or broker that disappears for
// 30 s would fail them. The script is the same; only its ports and data
// folder differ (the variables it documents), and data survives a
// stop/start exactly as it does for the shared service.
type privateService struct {
	t      *testing.T
	script string
	env    []string
	up     bool
}

// startPrivate starts a private service and stops it at the end of the
// test, even if the test failed while it was stopped (then it is simply
// left stopped). When it cannot be started the test is skipped, or
// fails under REQUIRE_SERVICES=1.
func startPrivate(t *testing.T, script string, env ...string) *privateService {
	t.Helper()
	s := &privateService{t: t, script: script, env: env}
	start := time.Now()
	if err := s.run("start"); err != nil {
		if testkit.Required() {
			t.Fatalf("starting a private %s: %v", script, err)
		}
		t.Skipf("cannot start a private %s (%v); skipping", script, err)
	}
	s.up = true
	t.Logf("private %s started in %s (%s)", script, time.Since(start).Round(time.Millisecond), strings.Join(env, " "))
	t.Cleanup(func() {
		if err := s.run("stop"); err != nil {
			t.Logf("stopping the private %s: %v", script, err)
		}
	})
	return s
}

// run runs the script with an action (start, stop, status).
func (s *privateService) run(action string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", repoPath(filepath.Join("scripts", s.script)), action)
	cmd.Env = append(os.Environ(), s.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", s.script, action, err, out)
	}
	return nil
}

// stop stops the service (the fault under test).
func (s *privateService) stop() {
	s.t.Helper()
	if err := s.run("stop"); err != nil {
		s.t.Fatal(err)
	}
	s.up = false
}

// start starts it again on the same data.
func (s *privateService) start() {
	s.t.Helper()
	if err := s.run("start"); err != nil {
		s.t.Fatal(err)
	}
	s.up = true
}

// ensureUp registers a cleanup that restarts the service if the test
// ends while it is stopped, so later steps of the cleanup (dropping the
// database, deleting the topics) find it.
func (s *privateService) ensureUp() {
	s.t.Cleanup(func() {
		if !s.up {
			if err := s.run("start"); err != nil {
				s.t.Logf("restarting the private %s: %v", s.script, err)
				return
			}
			s.up = true
		}
	})
}

// privateClickHouse starts a ClickHouse server of the test's own and
// returns it with its DSN.
func privateClickHouse(t *testing.T) (*privateService, string) {
	t.Helper()
	port := freePort(t)
	s := startPrivate(t, "clickhouse.sh",
		fmt.Sprintf("CLICKHOUSE_PORT=%d", port),
		fmt.Sprintf("CLICKHOUSE_HTTP_PORT=%d", freePort(t)),
		"CLICKHOUSE_DATA="+filepath.Join(t.TempDir(), "clickhouse"))
	return s, fmt.Sprintf("clickhouse://127.0.0.1:%d/default", port)
}

// privateKafka starts a Kafka broker of the test's own and returns it
// with its address.
func privateKafka(t *testing.T) (*privateService, []string) {
	t.Helper()
	port, controller := freePort(t), freePort(t)
	s := startPrivate(t, "kafka.sh",
		fmt.Sprintf("KAFKA_PORT=%d", port),
		fmt.Sprintf("KAFKA_CONTROLLER_PORT=%d", controller),
		"KAFKA_DATA="+filepath.Join(t.TempDir(), "kafka"))
	return s, []string{fmt.Sprintf("127.0.0.1:%d", port)}
}
