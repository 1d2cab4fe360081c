package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// benchInstances is the serve pipeline of `loginrisk bench --instances N`:
// N serve processes of this binary in one consumer group, sharing the
// bench's configuration, each with its own CPU time (docs/scaling.md,
// "Measured: 1, 2 and 3 instances").
type benchInstances struct {
	n      int
	cfg    Config
	stderr io.Writer

	mu   sync.Mutex
	pids []int
}

// serve runs the instances until ctx ends, then stops them with SIGTERM
// (each drains and commits, as serve does) and waits for them. An
// instance that exits before is an error, and the others are stopped.
func (b *benchInstances) serve(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench instances: %w", err)
	}
	dir, err := os.MkdirTemp("", "loginrisk-bench-")
	if err != nil {
		return fmt.Errorf("bench instances: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "serve.yaml")
	env, err := writeInstanceConfig(path, b.cfg)
	if err != nil {
		return err
	}
	exited := make(chan error, b.n)
	var cmds []*exec.Cmd
	out := b.stderr
	for i := range b.n {
		cmd := exec.Command(exe, "serve", "--config", path)
		cmd.Env = append(withoutLoginriskEnv(os.Environ()), env...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			stopInstances(cmds)
			return fmt.Errorf("starting serve instance %d: %w", i+1, err)
		}
		cmds = append(cmds, cmd)
		b.mu.Lock()
		b.pids = append(b.pids, cmd.Process.Pid)
		b.mu.Unlock()
		go func() {
			err := cmd.Wait()
			exited <- fmt.Errorf("serve instance %d (pid %d) exited: %v", i+1, cmd.Process.Pid, err)
		}()
	}
	select {
	case err := <-exited:
		stopInstances(cmds)
		return err
	case <-ctx.Done():
	}
	stopInstances(cmds)
	for range cmds {
		<-exited
	}
	return nil
}

// withoutLoginriskEnv drops the LOGINRISK_* variables: the bench's
// configuration already holds them, and an instance must not undo the
// run's own topics and database with them.
func withoutLoginriskEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "LOGINRISK_") {
			out = append(out, kv)
		}
	}
	return out
}

// stopInstances sends SIGTERM to each instance, and SIGKILL to those
// still running a minute later.
func stopInstances(cmds []*exec.Cmd) {
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	t := time.AfterFunc(time.Minute, func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
		}
	})
	for _, c := range cmds {
		_, _ = c.Process.Wait()
	}
	t.Stop()
}

// cpu returns the CPU time the instances have used so far
// (loadgen.ProcessCPU of each; one not started yet has used none).
func (b *benchInstances) cpu() (time.Duration, error) {
	b.mu.Lock()
	pids := append([]int(nil), b.pids...)
	b.mu.Unlock()
	var total time.Duration
	var errs []error
	for _, pid := range pids {
		d, err := loadgen.ProcessCPU(pid)
		total += d
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// writeInstanceConfig writes cfg as the YAML configuration of the
// instances to path, each secret as an env: reference, and returns the
// environment that holds the secrets (and the ClickHouse DSN, whose
// password YAML does not show). The database is migrated once by the
// bench, not by each instance.
func writeInstanceConfig(path string, cfg Config) ([]string, error) {
	var env []string
	secret := func(s *Secret) {
		if *s == "" {
			return
		}
		name := "LOGINRISK_BENCH_SECRET_" + strconv.Itoa(len(env))
		env = append(env, name+"="+string(*s))
		*s = Secret("env:" + name)
	}
	secret(&cfg.Kafka.SASLPassword)
	secret(&cfg.ClickHouse.Password)
	cfg.Kafka.DecisionKeys = append([]DecisionKeyConfig(nil), cfg.Kafka.DecisionKeys...)
	for i := range cfg.Kafka.DecisionKeys {
		secret(&cfg.Kafka.DecisionKeys[i].Secret)
	}
	cfg.HTTP.Tokens = append(cfg.HTTP.Tokens[:0:0], cfg.HTTP.Tokens...)
	for i := range cfg.HTTP.Tokens {
		secret(&cfg.HTTP.Tokens[i].Token)
	}
	if cfg.ClickHouse.DSN != "" {
		env = append(env, "LOGINRISK_CLICKHOUSE_DSN="+string(cfg.ClickHouse.DSN))
	}
	cfg.ClickHouse.Migrate = false
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench instances: writing their configuration: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("bench instances: %w", err)
	}
	return env, nil
}

// sharedStderr returns w for the bench and its instances to write to at
// once: an *os.File is handed to the processes as it is, any other
// writer is copied into by a goroutine per process and stream, so its
// writes are serialised.
func sharedStderr(w io.Writer) io.Writer {
	if _, isFile := w.(*os.File); isFile {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
