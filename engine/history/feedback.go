package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// RecordFeedback stores an analyst's label in the feedback table
// (engine.FeedbackWriter). Like RecordAdminAction it inserts at once and
// does not retry: the caller reports the error to the analyst, who
// retries.
func (w *Writer) RecordFeedback(ctx context.Context, fb schemas.Feedback) error {
	if fb.EventID == "" || !fb.Label.Valid() {
		return fmt.Errorf("history: feedback needs an event_id and a valid label (got %q, %q)", fb.EventID, fb.Label)
	}
	at := fb.At
	if at.IsZero() {
		return errors.New("history: feedback needs a time")
	}
	err := insertRow(ctx, w.conn, "INSERT INTO feedback (event_id, at, label, actor, note)",
		fb.EventID, clampDateTime(at), string(fb.Label), fb.Actor, fb.Note)
	if err != nil {
		return fmt.Errorf("history: recording feedback on %s: %w", fb.EventID, err)
	}
	return nil
}

// LabelledDecision is an event's latest feedback label with the decision
// history recorded for it (empty when history lacks the event).
type LabelledDecision struct {
	EventID  string
	Label    schemas.FeedbackLabel
	Decision schemas.Verdict
}

// feedbackLabelsSQL reads the latest label of each event labelled between
// two times (%s: from, to), with the event's recorded decision.
const feedbackLabelsSQL = `SELECT event_id, label, decision
FROM
(
    SELECT event_id, argMax(label, at) AS label
    FROM feedback
    WHERE at >= %s AND at < %s
    GROUP BY event_id
) AS labels
ALL LEFT JOIN
(
    SELECT event_id, any(toString(decision)) AS decision
    FROM login_events FINAL
    WHERE ` + notAdmin + `
    GROUP BY event_id
) AS decisions USING (event_id)
ORDER BY event_id`

// FeedbackLabels returns the latest label of every event labelled in
// [from, to), with its recorded decision, ordered by event_id.
func (w *Writer) FeedbackLabels(ctx context.Context, from, to time.Time) ([]LabelledDecision, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf(feedbackLabelsSQL, chschema.DateTimeLiteral(from), chschema.DateTimeLiteral(to)))
	if err != nil {
		return nil, fmt.Errorf("history: reading feedback labels: %w", err)
	}
	defer rows.Close()
	var out []LabelledDecision
	for rows.Next() {
		var id, label, decision string
		if err := rows.Scan(&id, &label, &decision); err != nil {
			return nil, fmt.Errorf("history: reading feedback labels: %w", err)
		}
		out = append(out, LabelledDecision{EventID: id, Label: schemas.FeedbackLabel(label), Decision: schemas.Verdict(decision)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: reading feedback labels: %w", err)
	}
	return out, nil
}
