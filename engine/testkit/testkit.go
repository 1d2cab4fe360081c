// Package testkit gives tests the real services they need: the Kafka broker
// named by KAFKA_BROKERS (else an in-process Kafka-protocol broker) and the
// ClickHouse named by CLICKHOUSE_DSN. With REQUIRE_SERVICES=1 (CI) a missing
// service fails the test instead of skipping it. It also holds what the
// tests of several packages share: engines and enrichers built as serve
// builds them, the bad-input corpus, producing to a new topic, running a
// component until the test stops it (Start) and a consumer group's
// assignment count. A buffer safe for concurrent writers is in its leaf
// package syncbuf, which the tests of package rules can import too.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Required reports whether missing services must fail tests.
func Required() bool { return os.Getenv("REQUIRE_SERVICES") == "1" }

// Kafka returns broker addresses for a test and whether they are a real
// broker. Without KAFKA_BROKERS it starts an in-process broker that lives
// until the test ends; under REQUIRE_SERVICES=1 that is a failure unless
// LOGINRISK_KAFKA_FALLBACK=inprocess says the real broker could not be
// installed on this machine (make test prints why).
func Kafka(t testing.TB) (brokers []string, real bool) {
	t.Helper()
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ","), true
	}
	if Required() && os.Getenv("LOGINRISK_KAFKA_FALLBACK") != "inprocess" {
		t.Fatal("KAFKA_BROKERS is not set and REQUIRE_SERVICES=1: a real Kafka broker is required (make test starts one)")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatalf("starting the in-process broker: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), false
}

// KafkaContext is how a Kafka test opens: the brokers of Kafka and a
// context that ends after timeout or when the test returns, whichever is
// first.
func KafkaContext(t testing.TB, timeout time.Duration) (ctx context.Context, brokers []string, real bool) {
	t.Helper()
	brokers, real = Kafka(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx, brokers, real
}

// ClickHouse returns the DSN of a real ClickHouse, or skips the test
// (fails it under REQUIRE_SERVICES=1).
func ClickHouse(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		if Required() {
			t.Fatal("CLICKHOUSE_DSN is not set and REQUIRE_SERVICES=1: a real ClickHouse is required (make test starts one)")
		}
		t.Skip("CLICKHOUSE_DSN not set; skipping (make test starts a real ClickHouse)")
	}
	return dsn
}

// Name returns a unique name with the prefix, for topics, groups and
// databases that must not collide between tests or runs.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}
