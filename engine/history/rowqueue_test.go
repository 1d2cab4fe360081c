package history

import (
	"strconv"
	"testing"
)

// TestRowQueueKeepsRowsInPlace checks the writer's buffer hands the rows
// to the insert in order, split at the batch size, without copying them:
// the rows taken are the very rows pushed (docs/performance.md, "CPU per
// event on the Kafka path").
func TestRowQueueKeepsRowsInPlace(t *testing.T) {
	var q rowQueue
	var pushed [][]record
	id := 0
	for _, n := range []int{3, 5, 2} {
		rs := make([]record, n)
		for i := range rs {
			rs[i].EventID = strconv.Itoa(id)
			id++
		}
		pushed = append(pushed, rs)
		q.push(rs)
	}
	if q.n != 10 {
		t.Fatalf("queued %d rows, want 10", q.n)
	}
	want := 0
	for _, size := range []int{4, 4, 4} {
		batch := q.take(size)
		if got, exp := batch.len(), min(size, 10-want); got != exp {
			t.Fatalf("took %d rows, want %d", got, exp)
		}
		for _, chunk := range batch {
			for i := range chunk {
				if chunk[i].EventID != strconv.Itoa(want) {
					t.Fatalf("row %d is event %s: out of order", want, chunk[i].EventID)
				}
				if orig := rowAt(pushed, want); &chunk[i] != orig {
					t.Fatalf("row %d was copied: the buffer must keep the enqueued rows in place", want)
				}
				want++
			}
		}
	}
	if q.n != 0 || q.chunks != nil {
		t.Fatalf("queue not empty after taking every row: n=%d chunks=%d", q.n, len(q.chunks))
	}
}

// rowAt returns the address of the i-th row pushed.
func rowAt(pushed [][]record, i int) *record {
	for _, c := range pushed {
		if i < len(c) {
			return &c[i]
		}
		i -= len(c)
	}
	return nil
}
