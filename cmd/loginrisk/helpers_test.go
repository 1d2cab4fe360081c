package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
	"github.com/segmentio/kafka-go"
)

// runCLI runs the binary's entry point in-process.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// writeFile writes body to a file name in a fresh temporary folder,
// readable by its owner only, and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// setting is a numeric key of the configuration file, with the
// LOGINRISK_* variable that overrides it.
type setting struct {
	key string // section.key, as the file nests it and errors name it
	env string
	get func(Config) int
}

// yaml is a configuration file that sets the key to v.
func (s setting) yaml(v string) string {
	section, key, _ := strings.Cut(s.key, ".")
	return section + ":\n  " + key + ": " + v + "\n"
}

// checkFileThenEnv requires the key to be read from the file, and the
// variable to override the file.
func (s setting) checkFileThenEnv(t *testing.T, fromFile, fromEnv int) {
	t.Helper()
	yaml := s.yaml(strconv.Itoa(fromFile))
	if got := s.get(loadYAML(t, yaml)); got != fromFile {
		t.Errorf("%s from the file = %d, want %d", s.key, got, fromFile)
	}
	t.Setenv(s.env, strconv.Itoa(fromEnv))
	if got := s.get(loadYAML(t, yaml)); got != fromEnv {
		t.Errorf("%s from the environment = %d, want %d", s.key, got, fromEnv)
	}
	os.Unsetenv(s.env)
}

// checkRefused requires --check-config to refuse each bad value,
// naming the key: "KEY: VALUE refusal".
func (s setting) checkRefused(t *testing.T, refusal string, bad ...string) {
	t.Helper()
	for _, v := range bad {
		checkConfig(t, "migrate", s.yaml(v), s.key+": "+v+" "+refusal)
	}
}

// kafkaSection is the start of a configuration's kafka section: the
// brokers, and a group and topics named after name. The caller goes on
// with more kafka keys or the next section.
func kafkaSection(brokers []string, name string) string {
	topics := topicsOf(name)
	return fmt.Sprintf("kafka:\n  brokers: [%s]\n  group_id: %s\n  events_topic: %s\n  decisions_topic: %s\n  dlq_topic: %s\n",
		strings.Join(brokers, ","), name, topics[0], topics[1], topics[2])
}

// topicsOf is the events, decisions and dead-letter topics named after
// name (kafkaSection configures them).
func topicsOf(name string) []string {
	return []string{name + "-events", name + "-decisions", name + "-dlq"}
}

// deleteTopicsAtEnd deletes the topics of name (topicsOf) when the test
// ends.
func deleteTopicsAtEnd(t *testing.T, client *kafka.Client, name string) {
	t.Cleanup(func() {
		_, _ = client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: topicsOf(name)})
	})
}

// checkConfig runs `loginrisk CMD --config F --check-config`, with yaml
// in F and cmd the subcommand and its flags (split at spaces). With no
// want (or only empty ones) the configuration must be valid (exit 0);
// else invalid (exit 1), with every want in the output. It returns the
// output.
func checkConfig(t *testing.T, cmd, yaml string, wants ...string) string {
	t.Helper()
	args := append(strings.Fields(cmd), "--config", writeFile(t, "c.yaml", yaml), "--check-config")
	_, stderr, code := runCLI(t, "", args...)
	valid := true
	for _, want := range wants {
		if want == "" {
			continue
		}
		valid = false
		if !strings.Contains(stderr, want) {
			t.Errorf("%s --check-config of %q lacks %q:\n%s", cmd, yaml, want, stderr)
		}
	}
	if wantCode := map[bool]int{true: 0, false: 1}[valid]; code != wantCode {
		t.Errorf("%s --check-config of %q: exit %d, want %d:\n%s", cmd, yaml, code, wantCode, stderr)
	}
	return stderr
}

// loadConfig loads and resolves a configuration file as the subcommands do.
func loadConfig(t *testing.T, path string) Config {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cf := commonFlags{config: path}
	cfg, err := cf.load(fs)
	if err == nil {
		err = cfg.resolveSecrets()
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// loadYAML is loadConfig of a file holding yaml.
func loadYAML(t *testing.T, yaml string) Config {
	t.Helper()
	return loadConfig(t, writeFile(t, "c.yaml", yaml))
}

// testLogger is the logger of the tests' own engines and clean-ups:
// warnings and errors only, on w.
func testLogger(w io.Writer) *slog.Logger {
	return newLogger(w, LogConfig{Level: "warn"})
}

// offlineCore builds the engine an offline command (replay, eval)
// builds from cfg, closed when the test ends.
func offlineCore(t *testing.T, cfg Config) *core {
	t.Helper()
	c, err := buildOffline(cfg, testLogger(os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// scoreFile scores the NDJSON events of the file at path, in order, with
// the engine an offline command builds from cfg.
func scoreFile(t *testing.T, cfg Config, path string) []engine.Scored {
	t.Helper()
	c := offlineCore(t, cfg)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []engine.Scored
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		ev := new(schemas.LoginEvent)
		if err := schemas.Decode(line, ev); err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		s, err := c.engine.Score(ev, false)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		out = append(out, s)
	}
	return out
}

// historyDB migrates a fresh database on the test ClickHouse, named
// after what and the test run and dropped when the test ends, and
// returns its DSN and name.
func historyDB(ctx context.Context, t *testing.T, what string) (dsn, db string) {
	t.Helper()
	dsn, db, err := benchDSN(testkit.ClickHouse(t), "_"+what+"_"+strings.TrimPrefix(testkit.Name(""), "_"))
	if err != nil {
		t.Fatal(err)
	}
	if err := history.Migrate(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loadgen.DropDatabase(dsn, db, testLogger(os.Stderr)) })
	return dsn, db
}
