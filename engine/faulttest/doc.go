// Package faulttest is the fault and bad-input suite: integration tests
// that run the real loginrisk binary against a real Kafka broker and a real
// ClickHouse and break things under it — SIGKILL while consuming, a
// ClickHouse outage, a broker restart, SIGTERM under load — then check from
// the outside (topics, committed offsets, history rows) that nothing was
// lost and that redelivered events kept their decisions. The package has
// no code outside its tests; docs/reliability.md maps each promise of the
// engine to the test that proves it.
package faulttest
