package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/loginrisk/loginrisk/engine/history"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// ClickHouseConfig is the clickhouse section: the history writer's
// settings (history.Config, which owns their defaults and checks), the
// connection as configured (DSN and Password, joined only to connect:
// connString) and what the command does at start.
type ClickHouseConfig struct {
	// DSN is history.Config.DSN as configured, without Password.
	DSN DSN `yaml:"dsn"`
	// Password, when set, replaces the password of the DSN's user (or
	// of the user "default"), so the DSN can live in the file and the
	// password in a file: or env: secret.
	Password Secret `yaml:"password"`
	// Migrate applies the migrations before serve starts.
	Migrate bool `yaml:"migrate"`
	// WarmUp rebuilds the state from the history at start.
	WarmUp bool `yaml:"warm_up"`
	// Cluster names the ClickHouse cluster (the servers' remote_servers)
	// the history lives on: migrate then creates replicated tables on
	// every node and Distributed tables over them (docs/scaling.md).
	// Empty: one server.
	Cluster        string `yaml:"cluster"`
	history.Config `yaml:",inline"`
}

// defaultClickHouseConfig is the section before any file, env or flag.
func defaultClickHouseConfig() ClickHouseConfig {
	return ClickHouseConfig{Migrate: true, WarmUp: true, Config: history.DefaultConfig()}
}

// historyConfig is the writer's configuration of this section, connecting
// with conn (connString) and logging to log.
func (c ClickHouseConfig) historyConfig(conn string, log *slog.Logger) history.Config {
	hc := c.Config
	hc.DSN, hc.Logger = conn, log
	return hc
}

// resolveSecrets resolves the password and checks that it can be joined
// to the DSN.
func (c *ClickHouseConfig) resolveSecrets() error {
	var err error
	if c.Password, err = c.Password.Resolve("clickhouse.password"); err != nil {
		return err
	}
	_, err = c.connString()
	return err
}

// Validate checks the DSN's protocol and, with the writer's own checks,
// the writer's settings.
func (c ClickHouseConfig) Validate() error {
	var errs []error
	if dsn := string(c.DSN); dsn != "" && !strings.HasPrefix(dsn, "clickhouse://") && !strings.HasPrefix(dsn, "tcp://") {
		errs = append(errs, fmt.Errorf("clickhouse.dsn: %q must start with clickhouse:// (the native protocol)", c.DSN))
	}
	if c.Cluster != "" {
		errs = append(errs, chschema.Cluster{Name: c.Cluster, Database: "default"}.Validate())
	}
	errs = append(errs, c.Config.Validate())
	return errors.Join(errs...)
}
