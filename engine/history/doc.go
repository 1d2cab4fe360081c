// Package history is the ClickHouse adapter: it stores every scored event
// (engine.HistoryWriter, batched and retried, with back-pressure), reads
// history back to warm the engine at start-up (engine.WarmSource), applies
// the schema migrations of schemas/clickhouse and runs its analyst
// queries. It speaks clickhouse-go's native protocol, which works with
// ClickHouse 18.16 and current releases; see docs/history.md.
package history
