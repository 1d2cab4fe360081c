package history

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// eventsSQL reads the columns of a record (%[1]s) of the events of a time
// range (%[2]s to %[3]s), deduplicated (FINAL), in event order. The bounds
// are whole seconds; EventReader drops the rows outside the exact range.
const eventsSQL = `SELECT %[1]s
FROM login_events FINAL
WHERE occurred_at >= %[2]s AND occurred_at <= %[3]s
ORDER BY occurred_at, occurred_at_ns, event_id`

// EventReader reads the login events stored between two times, each once,
// in event-time order, for scoring them again (`loginrisk backtest`): it
// is an offline.Source. Only the events are read back; their stored
// features and decisions are ignored.
type EventReader struct {
	rows     driver.Rows
	row      *rowBinding
	from, to time.Time
	// Rejected counts the stored events the engine refused (an event
	// stored by an older version that today's validation refuses).
	Rejected int
}

// ReadEvents starts reading the events with from <= occurred_at < to.
// Close the reader when done.
func (w *Writer) ReadEvents(ctx context.Context, from, to time.Time) (*EventReader, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("history: reading events: from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	sql := fmt.Sprintf(eventsSQL, w.columns.selectList, chschema.DateTimeLiteral(from.Truncate(time.Second)), chschema.DateTimeLiteral(to.Truncate(time.Second)))
	rows, err := w.conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("history: reading events: %w", err)
	}
	return &EventReader{rows: rows, row: w.columns.bind(), from: from, to: to}, nil
}

// Next fills ev with the next event; io.EOF after the last.
func (r *EventReader) Next(_ context.Context, ev *schemas.LoginEvent) error {
	for r.rows.Next() {
		if err := r.rows.Scan(r.row.dest...); err != nil {
			return fmt.Errorf("history: reading events: %w", err)
		}
		se := r.row.stored().scored()
		if se.Event.OccurredAt.Before(r.from) || !se.Event.OccurredAt.Before(r.to) {
			continue
		}
		*ev = *se.Event
		return nil
	}
	if err := r.rows.Err(); err != nil {
		return fmt.Errorf("history: reading events: %w", err)
	}
	return io.EOF
}

// Reject counts an event the engine refused.
func (r *EventReader) Reject(error) { r.Rejected++ }

// Close releases the query.
func (r *EventReader) Close() error { return r.rows.Close() }
