package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// DSN is a ClickHouse connection string as configured
// (clickhouse://user:password@host:9000/db?...). Its password never
// prints: formatted with any fmt verb that uses String (%v, %+v, %s, %q)
// or %#v, encoded as JSON or YAML, or logged by any slog handler, it shows
// as user:[redacted]@ (and password=[redacted] in the query). Only
// ClickHouseConfig.connString reads it whole, to connect.
type DSN string

// String is the DSN with its password redacted.
func (d DSN) String() string { return redactDSN(string(d)) }

// GoString is String quoted, for %#v.
func (d DSN) GoString() string { return strconv.Quote(d.String()) }

// MarshalJSON encodes String.
func (d DSN) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// MarshalYAML encodes String.
func (d DSN) MarshalYAML() (any, error) { return d.String(), nil }

// LogValue is String, for every slog handler.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// dsnQueryPassword is the password parameter clickhouse-go also reads.
var dsnQueryPassword = regexp.MustCompile(`([?&]password=)[^&#]*`)

// redactDSN hides the passwords of a DSN (its user info and its password
// parameter) for messages.
func redactDSN(dsn string) string {
	dsn = dsnQueryPassword.ReplaceAllString(dsn, "${1}[redacted]")
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return dsn[:scheme+3] + userinfo[:i] + ":[redacted]" + dsn[at:]
	}
	return dsn
}

// connString is the DSN to connect with: the DSN with Password, when
// set, as the password of its user ("default" when it names none), and,
// with Cluster, the setting insert_distributed_sync=1 (unless the DSN
// sets it), so that an insert into a Distributed table returns once the
// shards stored it: an offset is committed only after its history is
// stored, and warm-up reads it back. It is built where a connection is
// opened, so the configuration never holds the password in a plain
// string.
func (c ClickHouseConfig) connString() (string, error) {
	dsn := string(c.DSN)
	if dsn == "" || (c.Password == "" && c.Cluster == "") {
		return dsn, nil
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("clickhouse.dsn: %q is not a URL to add a password or a setting to", c.DSN)
	}
	if c.Password != "" {
		user := "default"
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, string(c.Password))
	}
	if c.Cluster != "" {
		q := u.Query()
		if !q.Has(insertDistributedSync) {
			q.Set(insertDistributedSync, "1")
			u.RawQuery = q.Encode()
		}
	}
	return u.String(), nil
}

// requiredConnString is connString for a command that has nothing to do
// without ClickHouse (migrate, query): an empty DSN is an error that
// says how to give one.
func (c ClickHouseConfig) requiredConnString() (string, error) {
	if c.DSN == "" {
		return "", errors.New("clickhouse.dsn is required (--clickhouse-dsn or LOGINRISK_CLICKHOUSE_DSN)")
	}
	return c.connString()
}

// insertDistributedSync is the ClickHouse setting that makes an insert into
// a Distributed table synchronous.
const insertDistributedSync = "insert_distributed_sync"
