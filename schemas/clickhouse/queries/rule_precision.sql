-- Precision of each rule from analyst feedback: among the labelled
-- decisions that challenged or refused an attempt (a decision's latest
-- label counts), how many the rule contributed to, and how many of those
-- were right (confirmed_attack, or expected: the refusal was warranted)
-- or wrong (false_positive). precision = right / (right + wrong). The
-- labels are those given in the period; the decisions may be older.
-- @param from DateTime -30d start of the period of the labels (inclusive)
-- @param to DateTime now end of the period of the labels (exclusive)
SELECT
    rule,
    count() AS labelled,
    countIf(label = 'confirmed_attack') AS confirmed_attacks,
    countIf(label = 'expected') AS expected,
    countIf(label = 'false_positive') AS false_positives,
    round((confirmed_attacks + expected) / labelled, 4) AS precision
FROM
(
    SELECT event_id, argMax(label, at) AS label
    FROM feedback
    WHERE at >= {from:DateTime} AND at < {to:DateTime}
    GROUP BY event_id
) AS labels
ALL INNER JOIN
(
    SELECT event_id, rule
    FROM login_events FINAL
    ARRAY JOIN reason_rules AS rule
    WHERE decision != 'allow' AND source != 'admin' AND rule != 'locked'
) AS flagged USING (event_id)
GROUP BY rule
ORDER BY precision, labelled DESC, rule
