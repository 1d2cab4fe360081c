package history

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// notAdmin leaves out the records of administrators' actions (a lock lift
// is stored as a row with source 'admin'): they are not login attempts.
const notAdmin = "source != 'admin'"

// newestSQL finds the newest occurred_at of a login attempt, to the
// nanosecond; 0 when there is none.
const newestSQL = `SELECT max(toUInt64(occurred_at) * 1000000000 + occurred_at_ns) FROM login_events WHERE ` + notAdmin

// Newest returns the newest occurred_at stored, or the zero time when no
// login attempt is stored (engine.WarmSource): the warm-up's anchor.
func (w *Writer) Newest(ctx context.Context) (time.Time, error) {
	var ns uint64
	if err := w.conn.QueryRow(ctx, newestSQL).Scan(&ns); err != nil {
		return time.Time{}, fmt.Errorf("history: finding the newest event: %w", err)
	}
	if ns == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, int64(ns)).UTC(), nil
}

// profilesSQL builds every user's profile in one pass over the successful
// logins the engine allowed, a user being a tenant's user: a challenged
// or refused success taught nothing when it was scored, so it teaches
// nothing at a restart either. Redelivered rows do not matter: arrays hold distinct values,
// argMax picks the same row, and the count is of distinct event ids.
// last_ns orders logins to the nanosecond (occurred_at has whole seconds).
const profilesSQL = `SELECT
    tenant_id,
    user_id,
    groupUniqArrayIf(CAST(country AS String), country != '') AS countries,
    groupUniqArrayIf(concat(CAST(country AS String), '/', city), city != '') AS cities,
    groupUniqArrayIf(asn, asn_known = 1 AND asn != 0) AS asns,
    groupUniqArrayIf(device_key, device_key != '') AS devices,
    groupUniqArrayIf(network, network != '') AS networks,
    uniqExact(event_id) AS successes,
    max(toUInt64(occurred_at) * 1000000000 + occurred_at_ns) AS last_ns,
    argMax(geo_known, toUInt64(occurred_at) * 1000000000 + occurred_at_ns) AS last_geo_known,
    argMax(latitude, toUInt64(occurred_at) * 1000000000 + occurred_at_ns) AS last_latitude,
    argMax(longitude, toUInt64(occurred_at) * 1000000000 + occurred_at_ns) AS last_longitude
FROM login_events
WHERE outcome = 'success' AND decision = 'allow' AND ` + notAdmin + `
GROUP BY tenant_id, user_id`

// Profiles streams every user's profile, built by one aggregate query over
// the successful logins (engine.WarmSource). The slices are sorted, nil
// when empty. Each call of fn gets a new profile.
func (w *Writer) Profiles(ctx context.Context, fn func(*schemas.UserProfile) error) error {
	rows, err := w.conn.Query(ctx, profilesSQL)
	if err != nil {
		return fmt.Errorf("history: loading profiles: %w", err)
	}
	defer rows.Close()
	var (
		asns   []uint32
		count  uint64
		lastNs uint64
		geo    uint8
	)
	for rows.Next() {
		p := new(schemas.UserProfile)
		if err := rows.Scan(&p.TenantID, &p.UserID, &p.Countries, &p.Cities, &asns, &p.Devices, &p.Networks,
			&count, &lastNs, &geo, &p.LastLatitude, &p.LastLongitude); err != nil {
			return fmt.Errorf("history: loading profiles: %w", err)
		}
		p.ASNs = nil
		for _, a := range asns {
			p.ASNs = append(p.ASNs, int(a))
		}
		p.Countries = sorted(p.Countries)
		p.Cities = sorted(p.Cities)
		p.ASNs = sorted(p.ASNs)
		p.Devices = sorted(p.Devices)
		p.Networks = sorted(p.Networks)
		p.SuccessesTotal = int(count)
		p.LastSuccessAt = time.Unix(0, int64(lastNs)).UTC()
		p.LastGeoKnown = geo != 0
		if !p.LastGeoKnown {
			p.LastLatitude, p.LastLongitude = 0, 0
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history: loading profiles: %w", err)
	}
	return nil
}

// sorted sorts s in place; an empty slice becomes nil.
func sorted[T cmp.Ordered](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return s
}

// trustedSQL lists, per user (tenant_id, user_id), the client device_ids and networks of the
// allowed successes since a time, with the first and last of them: the
// trusted contexts (engine.TrustSource). Redelivered rows change neither
// bound.
const trustedSQL = `SELECT tenant_id, user_id, kind, key, min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
FROM
(
    SELECT tenant_id, user_id, 'device' AS kind, device_id AS key, occurred_at
    FROM login_events
    WHERE outcome = 'success' AND decision = 'allow' AND ` + notAdmin + ` AND device_id != '' AND occurred_at >= %[1]s
    UNION ALL
    SELECT tenant_id, user_id, 'network' AS kind, network AS key, occurred_at
    FROM login_events
    WHERE outcome = 'success' AND decision = 'allow' AND ` + notAdmin + ` AND network != '' AND occurred_at >= %[1]s
)
GROUP BY tenant_id, user_id, kind, key`

// TrustedContexts streams the trusted contexts history holds: each client
// device_id and network of the allowed successes at or after since (to the
// second), with the first and last of those successes, per user of a
// tenant (engine.TrustSource).
func (w *Writer) TrustedContexts(ctx context.Context, since time.Time, fn func(tenantID, userID string, c schemas.TrustedContext) error) error {
	rows, err := w.conn.Query(ctx, fmt.Sprintf(trustedSQL, chschema.DateTimeLiteral(since.Truncate(time.Second))))
	if err != nil {
		return fmt.Errorf("history: loading trusted contexts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, user string
		var c schemas.TrustedContext
		if err := rows.Scan(&tenant, &user, &c.Kind, &c.Key, &c.FirstSeen, &c.LastSeen); err != nil {
			return fmt.Errorf("history: loading trusted contexts: %w", err)
		}
		c.FirstSeen, c.LastSeen = c.FirstSeen.UTC(), c.LastSeen.UTC()
		if err := fn(tenant, user, c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history: loading trusted contexts: %w", err)
	}
	return nil
}

// recentSQL reads the columns of a record (%[1]s) of the events since a
// time (%[2]s), deduplicated (FINAL), in event order. The bound is a whole
// second; Recent drops the rows before since.
const recentSQL = `SELECT %[1]s
FROM login_events FINAL
WHERE occurred_at >= %[2]s AND ` + notAdmin + `
ORDER BY occurred_at, occurred_at_ns, event_id`

// Recent streams the scored events that occurred at or after since, each
// once, in event-time order (engine.WarmSource). The events carry all their
// features and their decision (decided_at and the lock's end to the
// second).
func (w *Writer) Recent(ctx context.Context, since time.Time, fn func(schemas.ScoredEvent) error) error {
	return w.scanEvents(ctx, "recent events", fmt.Sprintf(recentSQL, w.columns.selectList, chschema.DateTimeLiteral(since.Truncate(time.Second))), since, fn)
}

// scanEvents runs a query that selects the columns of a record and hands
// each row that occurred at or after since to fn as a scored event; what
// names the load in errors.
func (w *Writer) scanEvents(ctx context.Context, what, query string, since time.Time, fn func(schemas.ScoredEvent) error) error {
	rows, err := w.conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("history: loading %s: %w", what, err)
	}
	defer rows.Close()
	row := w.columns.bind()
	for rows.Next() {
		if err := rows.Scan(row.dest...); err != nil {
			return fmt.Errorf("history: loading %s: %w", what, err)
		}
		se := row.stored().scored()
		if se.Event.OccurredAt.Before(since) {
			continue
		}
		if err := fn(se); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history: loading %s: %w", what, err)
	}
	return nil
}

// partitionSQL reads the columns of a record (%[1]s) of one partition's
// events (%[2]d) from an offset on (%[3]d) that occurred since a time
// (%[4]s), deduplicated (FINAL), in offset order: the order in which
// their owner scored them.
const partitionSQL = `SELECT %[1]s
FROM login_events FINAL
WHERE kafka_partition = %[2]d AND kafka_offset >= %[3]d AND occurred_at >= %[4]s AND ` + notAdmin + `
ORDER BY kafka_offset, event_id`

// PartitionEvents streams the scored events read from one partition of
// the events topic at or after offset from that occurred at or after
// since, each once, in offset order (engine.PartitionSource): what a
// partition's new owner catches up on. Every event carries its position.
func (w *Writer) PartitionEvents(ctx context.Context, partition int32, from int64, since time.Time, fn func(schemas.ScoredEvent) error) error {
	query := fmt.Sprintf(partitionSQL, w.columns.selectList, partition, from, chschema.DateTimeLiteral(since.Truncate(time.Second)))
	return w.scanEvents(ctx, fmt.Sprintf("the events of partition %d", partition), query, since, fn)
}

// lockingSQL reads the columns of a record (%[1]s) of the events from one
// time (%[2]s) to another (%[3]s) whose decision carries a lock, not an
// administrator's lift, deduplicated (FINAL), in event order.
const lockingSQL = `SELECT %[1]s
FROM login_events FINAL
WHERE lock_scope != '' AND occurred_at >= %[2]s AND occurred_at <= %[3]s AND lock_rule != 'admin_lift' AND ` + notAdmin + `
ORDER BY occurred_at, occurred_at_ns, event_id`

// Locking streams the scored events at or after since and before until
// whose decision carries a lock, each once, in event-time order
// (engine.OffenceSource): the offences that escalate the next lock of a
// key, older than the warm-up's span.
func (w *Writer) Locking(ctx context.Context, since, until time.Time, fn func(schemas.ScoredEvent) error) error {
	query := fmt.Sprintf(lockingSQL, w.columns.selectList, chschema.DateTimeLiteral(since.Truncate(time.Second)), chschema.DateTimeLiteral(until.Truncate(time.Second).Add(time.Second)))
	return w.scanEvents(ctx, "offences", query, since, func(se schemas.ScoredEvent) error {
		if !se.Event.OccurredAt.Before(until) {
			return nil // the query's bound is a whole second
		}
		return fn(se)
	})
}

// activeLocksSQL finds, per lock and tenant of the event that set or met
// it, the latest end among the decisions that set or reported it, leaving
// out decisions made before the lock was last lifted by hand (a lift at
// the same second as a decision keeps the lock: when in doubt, stay
// locked). ActiveLocks keeps the tenant of the scopes that name a user
// (lockTenant) and merges the others' rows.
var activeLocksSQL = `SELECT
    scope,
    tenant_id,
    lock_key,
    max(lock_until) AS until,
    argMax(lock_rule, lock_until) AS rule
FROM
(
    SELECT CAST(lock_scope AS String) AS scope, tenant_id, lock_key, lock_until, lock_rule, decided_at
    FROM login_events
    WHERE lock_scope != '' AND lock_until > %[1]s AND ` + notAdmin + `
) AS locks
ANY LEFT JOIN
(
    SELECT CAST(scope AS String) AS scope, key AS lock_key, max(at) AS lifted_at
    FROM admin_actions
    WHERE action = 'lift_lock'
    GROUP BY scope, lock_key
) AS lifts USING (scope, lock_key)
WHERE decided_at >= lifted_at
GROUP BY scope, lock_key, tenant_id
ORDER BY scope, lock_key, tenant_id`

// ActiveLocks returns the locks active at event time now (the warm-up's
// anchor), ordered by scope and key (engine.WarmSource). Until has whole
// seconds, rounded up.
func (w *Writer) ActiveLocks(ctx context.Context, now time.Time) ([]schemas.Lock, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf(activeLocksSQL, chschema.DateTimeLiteral(now)))
	if err != nil {
		return nil, fmt.Errorf("history: loading active locks: %w", err)
	}
	defer rows.Close()
	var out []schemas.Lock
	for rows.Next() {
		var scope, tenant, key, rule string
		var until time.Time
		if err := rows.Scan(&scope, &tenant, &key, &until, &rule); err != nil {
			return nil, fmt.Errorf("history: loading active locks: %w", err)
		}
		if until = until.UTC(); !until.After(now) {
			continue
		}
		l := schemas.Lock{Scope: schemas.LockScope(scope), Key: key, Until: until, Rule: rule}
		l.TenantID = lockTenant(l.Scope, tenant)
		// The rows of one lock are next to each other: an address
		// locked by the events of two tenants is one lock.
		if n := len(out); n > 0 && out[n-1].Scope == l.Scope && out[n-1].Key == l.Key && out[n-1].TenantID == l.TenantID {
			if l.Until.After(out[n-1].Until) {
				out[n-1].Until, out[n-1].Rule = l.Until, l.Rule
			}
			continue
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: loading active locks: %w", err)
	}
	return out, nil
}
