-- feedback: the labels analysts give decisions through
-- POST /v1/decisions/{event_id}/feedback (false_positive, confirmed_attack,
-- expected), keyed by the labelled event_id and the time of the label, with
-- who gave it (the API token's name) and an optional note. A decision may
-- be labelled again; the latest label of an event_id is its label (the
-- queries read argMax(label, at)). Backtest measures rule sets against it.
CREATE TABLE IF NOT EXISTS feedback
(
    event_id String,
    at       DateTime('UTC'),
    label    {{lc "String"}},
    actor    String,
    note     String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (event_id, at);
