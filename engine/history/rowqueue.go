package history

// rowBatch is a batch of history rows held as the slices they were enqueued
// in, so that buffering and taking a batch never copies a row: a row is
// ~1.5 KiB, and copying 50 000 of them into one growing slice cost more
// CPU per event than encoding them (docs/performance.md, "CPU per event
// on the Kafka path").
type rowBatch [][]record

// len returns how many rows the batch holds.
func (rs rowBatch) len() int {
	n := 0
	for _, c := range rs {
		n += len(c)
	}
	return n
}

// rowQueue is the writer's FIFO of rows waiting to be inserted.
type rowQueue struct {
	chunks rowBatch
	n      int
}

// push appends the rows, keeping the slice rather than copying it: the
// caller must not reuse it.
func (q *rowQueue) push(rs []record) {
	if len(rs) == 0 {
		return
	}
	q.chunks = append(q.chunks, rs)
	q.n += len(rs)
}

// take removes and returns the oldest max rows, or all of them when fewer
// are queued. A chunk longer than what is left to take is split.
func (q *rowQueue) take(max int) rowBatch {
	var out rowBatch
	want := min(max, q.n)
	for want > 0 {
		c := q.chunks[0]
		if len(c) > want {
			out = append(out, c[:want:want])
			q.chunks[0] = c[want:]
			q.n -= want
			break
		}
		out = append(out, c)
		q.chunks[0] = nil
		q.chunks = q.chunks[1:]
		q.n -= len(c)
		want -= len(c)
	}
	if len(q.chunks) == 0 {
		q.chunks = nil // let the backing array of chunk headers go
	}
	return out
}
