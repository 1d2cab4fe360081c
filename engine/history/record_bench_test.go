package history

import (
	"testing"
)

// BenchmarkNewRecord converts one scored event with every feature set into
// a row, as WriteHistory does for each event it buffers.
func BenchmarkNewRecord(b *testing.B) {
	se := richEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newRecord(&se, SourceKafka); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsert sends batches of 1,000 rows to the ClickHouse at
// CLICKHOUSE_DSN, as the flusher does: the per-row cost of binding a
// record's columns to the batch shows in ns/op and allocs/op.
func BenchmarkInsert(b *testing.B) {
	w, err := New(Config{DSN: migratedDatabase(b), Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	se := richEvent()
	batch := make([]record, 1000)
	for i := range batch {
		if batch[i], err = newRecord(&se, SourceKafka); err != nil {
			b.Fatal(err)
		}
	}
	ctx := testContext(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.insert(ctx, rowBatch{batch}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendRows appends 1,000 rows to an INSERT's batch without
// sending it: the client-side cost of binding records to columns, free of
// the network and the server.
func BenchmarkAppendRows(b *testing.B) {
	conn := testConn(b, migratedDatabase(b))
	se := richEvent()
	batch := make([]record, 1000)
	for i := range batch {
		var err error
		if batch[i], err = newRecord(&se, SourceKafka); err != nil {
			b.Fatal(err)
		}
	}
	table, err := recordColumns()
	if err != nil {
		b.Fatal(err)
	}
	ctx := testContext(b)
	b.ReportAllocs()
	for b.Loop() {
		ib, err := conn.PrepareBatch(ctx, table.insertSQL)
		if err != nil {
			b.Fatal(err)
		}
		if err := table.appendRows(ib, rowBatch{batch}); err != nil {
			b.Fatal(err)
		}
		if err := ib.Abort(); err != nil {
			b.Fatal(err)
		}
	}
}
