package history

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/loginrisk/loginrisk/schemas"
)

// ErrInvalidRow is wrapped by the error WriteHistory returns for an event
// that cannot be stored (no event or decision, an outcome or verdict the
// table does not know). Such an event is refused up front: once buffered,
// a row is retried until it is inserted, so a bad one would block the
// writer.
var ErrInvalidRow = errors.New("history: event cannot be stored")

// The values of the source column.
const (
	SourceKafka = "kafka"
	SourceHTTP  = "http"
	SourceAdmin = "admin"
)

func validSource(s string) bool {
	return s == SourceKafka || s == SourceHTTP || s == SourceAdmin
}

// epoch is the DateTime stored when there is no time (lock_until of a
// decision without a lock).
var epoch = time.Unix(0, 0).UTC()

// record is one login_events row in ClickHouse column types. It is the one
// place where schemas types become column values (newRecord) and back
// (scored). A field tagged ch is the column it names; Features holds the
// feature columns, one for each feature of schemas.FeatureCatalogue that
// has one (recordColumns lists them all, in this order).
type record struct {
	EventID         string    `ch:"event_id"`
	OccurredAt      time.Time `ch:"occurred_at"`
	OccurredAtNs    uint32    `ch:"occurred_at_ns"`
	UserID          string    `ch:"user_id"`
	Outcome         string    `ch:"outcome"`
	IP              string    `ch:"ip"`
	UserAgent       string    `ch:"user_agent"`
	DeviceID        string    `ch:"device_id"`
	FailureReason   string    `ch:"failure_reason"`
	AuthMethod      string    `ch:"auth_method"`
	TenantID        string    `ch:"tenant_id"`
	AttributeKeys   []string  `ch:"attribute_keys"`
	AttributeValues []string  `ch:"attribute_values"`

	Features schemas.Features

	Score         uint8     `ch:"score"`
	Decision      string    `ch:"decision"`
	LockScope     string    `ch:"lock_scope"`
	LockKey       string    `ch:"lock_key"`
	LockUntil     time.Time `ch:"lock_until"`
	LockRule      string    `ch:"lock_rule"`
	ReasonRules   []string  `ch:"reason_rules"`
	ReasonWeights []int32   `ch:"reason_weights"`
	ReasonDetails []string  `ch:"reason_details"`
	ShadowRules   []string  `ch:"shadow_rules"`
	ShadowWeights []int32   `ch:"shadow_weights"`
	RulesVersion  string    `ch:"rules_version"`
	DecidedAt     time.Time `ch:"decided_at"`
	Source        string    `ch:"source"`
	// KafkaPartition and KafkaOffset are the event's StreamPosition,
	// -1 both when it did not come from Kafka.
	KafkaPartition int32 `ch:"kafka_partition"`
	KafkaOffset    int64 `ch:"kafka_offset"`
}

// column is one login_events column: where its value is in a record, and
// how it is converted.
type column struct {
	name   string
	typ    reflect.Type // of the record's field
	offset uintptr      // of the field in record
	conv   conversion
	// feature is the catalogue entry of a feature column.
	feature *schemas.Feature
}

// conversion says how a field becomes a column value and back.
type conversion uint8

const (
	asIs    conversion = iota // the field has the column's type
	asFlag                    // a bool feature, UInt8 0 or 1
	asCount                   // an int feature, UInt32 clamped to 0..2^32-1
)

// columnTable lists the columns of a record, derived once from the struct
// and the feature catalogue.
type columnTable struct {
	columns []column
	names   []string // column names, in order
	// flags and counts are the offsets in record of the features
	// converted asFlag and asCount, in column order.
	flags, counts []uintptr
	// insertSQL is the INSERT every batch uses; selectList names the
	// columns for a SELECT.
	insertSQL, selectList string
}

// recordColumns returns the columns of a record. The reflection runs once,
// at the first call (New makes it).
var recordColumns = sync.OnceValues(func() (*columnTable, error) {
	features, err := schemas.FeatureCatalogue()
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	t := &columnTable{}
	rt := reflect.TypeFor[record]()
	for sf := range rt.Fields() {
		if sf.Type == reflect.TypeFor[schemas.Features]() {
			for i := range features {
				f := &features[i]
				if f.Column == "" {
					continue
				}
				c := column{name: f.Column, typ: sf.Type.Field(f.Index).Type, offset: sf.Offset + f.Offset, feature: f}
				switch f.Kind {
				case reflect.Bool:
					c.conv = asFlag
					t.flags = append(t.flags, c.offset)
				case reflect.Int:
					c.conv = asCount
					t.counts = append(t.counts, c.offset)
				}
				t.columns = append(t.columns, c)
			}
			continue
		}
		name := sf.Tag.Get("ch")
		if name == "" {
			return nil, fmt.Errorf("history: record.%s has no ch tag", sf.Name)
		}
		t.columns = append(t.columns, column{name: name, typ: sf.Type, offset: sf.Offset})
	}
	for _, c := range t.columns {
		t.names = append(t.names, c.name)
	}
	t.selectList = strings.Join(t.names, ", ")
	t.insertSQL = "INSERT INTO login_events (" + t.selectList + ")"
	return t, nil
})

// rowBinding holds one row for batch.Append and rows.Scan: dest has a
// pointer for each column, to a field of rec or, for a bool or int
// feature, to a slot holding its column value. It is made once per batch
// or query, so that a row costs a copy and the conversions, not an
// allocation.
type rowBinding struct {
	table  *columnTable
	rec    record
	dest   []any
	flags  []uint8
	counts []uint32
}

func (t *columnTable) bind() *rowBinding {
	b := &rowBinding{
		table:  t,
		dest:   make([]any, len(t.columns)),
		flags:  make([]uint8, len(t.flags)),
		counts: make([]uint32, len(t.counts)),
	}
	base := unsafe.Pointer(&b.rec)
	flags, counts := 0, 0
	for i, c := range t.columns {
		switch c.conv {
		case asFlag:
			b.dest[i] = &b.flags[flags]
			flags++
		case asCount:
			b.dest[i] = &b.counts[counts]
			counts++
		default:
			b.dest[i] = reflect.NewAt(c.typ, unsafe.Add(base, c.offset)).Interface()
		}
	}
	return b
}

// The conversions read and write the features at their offsets: the table
// checked each column's kind against its field, so each pointer conversion
// matches the field's type. This keeps a row free of reflection.

// load makes r the bound row, for batch.Append(b.dest...).
func (b *rowBinding) load(r *record) {
	b.rec = *r
	base := unsafe.Pointer(&b.rec)
	for i, off := range b.table.flags {
		b.flags[i] = flag(*(*bool)(unsafe.Add(base, off)))
	}
	for i, off := range b.table.counts {
		b.counts[i] = count(*(*int)(unsafe.Add(base, off)))
	}
}

// stored returns the row rows.Scan(b.dest...) read.
func (b *rowBinding) stored() *record {
	base := unsafe.Pointer(&b.rec)
	for i, off := range b.table.flags {
		*(*bool)(unsafe.Add(base, off)) = b.flags[i] != 0
	}
	for i, off := range b.table.counts {
		*(*int)(unsafe.Add(base, off)) = int(b.counts[i])
	}
	return &b.rec
}

// newRecord converts a scored event into a row. Features may be nil (only
// the event's own fields are then known).
func newRecord(se *schemas.ScoredEvent, source string) (record, error) {
	ev, d := se.Event, se.Decision
	if ev == nil || d == nil {
		return record{}, fmt.Errorf("%w: a scored event needs its event and decision", ErrInvalidRow)
	}
	if ev.Outcome != schemas.OutcomeSuccess && ev.Outcome != schemas.OutcomeFailure {
		return record{}, fmt.Errorf("%w: event %s: outcome %q", ErrInvalidRow, ev.EventID, ev.Outcome)
	}
	switch d.Decision {
	case schemas.VerdictAllow, schemas.VerdictChallenge, schemas.VerdictLockout:
	default:
		return record{}, fmt.Errorf("%w: event %s: decision %q", ErrInvalidRow, ev.EventID, d.Decision)
	}
	if d.Lock != nil && !d.Lock.Scope.Valid() {
		return record{}, fmt.Errorf("%w: event %s: lock scope %q", ErrInvalidRow, ev.EventID, d.Lock.Scope)
	}
	if !validSource(source) {
		return record{}, fmt.Errorf("%w: source %q", ErrInvalidRow, source)
	}
	occurred := ev.OccurredAt.UTC()
	if occurred.Unix() < 0 || occurred.Unix() > math.MaxUint32 {
		return record{}, fmt.Errorf("%w: event %s: occurred_at %s is outside the DateTime range", ErrInvalidRow, ev.EventID, occurred.Format(time.RFC3339))
	}
	r := record{
		EventID:       ev.EventID,
		OccurredAt:    occurred.Truncate(time.Second),
		OccurredAtNs:  uint32(occurred.Nanosecond()),
		UserID:        ev.UserID,
		Outcome:       string(ev.Outcome),
		IP:            ev.IP,
		UserAgent:     ev.UserAgent,
		DeviceID:      ev.DeviceID,
		FailureReason: ev.FailureReason,
		AuthMethod:    ev.AuthMethod,
		TenantID:      ev.TenantID,

		Score:         uint8(min(max(d.Score, 0), math.MaxUint8)),
		Decision:      string(d.Decision),
		LockUntil:     epoch,
		ReasonRules:   make([]string, len(d.Reasons)),
		ReasonWeights: make([]int32, len(d.Reasons)),
		ReasonDetails: make([]string, len(d.Reasons)),
		ShadowRules:   make([]string, len(d.Shadow)),
		ShadowWeights: make([]int32, len(d.Shadow)),
		RulesVersion:  d.RulesVersion,
		DecidedAt:     clampDateTime(d.DecidedAt).Truncate(time.Second),
		Source:        source,

		KafkaPartition: -1,
		KafkaOffset:    -1,
	}
	if p := se.Position; p.Kafka {
		r.KafkaPartition, r.KafkaOffset = p.Partition, p.Offset
	}
	if len(ev.Attributes) > 0 {
		r.AttributeKeys = make([]string, 0, len(ev.Attributes))
		for k := range ev.Attributes {
			r.AttributeKeys = append(r.AttributeKeys, k)
		}
		sort.Strings(r.AttributeKeys)
		r.AttributeValues = make([]string, len(r.AttributeKeys))
		for i, k := range r.AttributeKeys {
			r.AttributeValues[i] = ev.Attributes[k]
		}
	} else {
		r.AttributeKeys, r.AttributeValues = []string{}, []string{}
	}
	if l := d.Lock; l != nil {
		r.LockScope, r.LockKey, r.LockRule = string(l.Scope), l.Key, l.Rule
		// DateTime has whole seconds: round the end of a lock up, never
		// shortening it.
		until := clampDateTime(l.Until)
		if t := until.Truncate(time.Second); t.Before(until) {
			until = t.Add(time.Second)
		}
		r.LockUntil = until
	}
	for i, reason := range d.Reasons {
		r.ReasonRules[i], r.ReasonWeights[i], r.ReasonDetails[i] = reason.Rule, int32(reason.Weight), reason.Detail
	}
	for i, hit := range d.Shadow {
		r.ShadowRules[i], r.ShadowWeights[i] = hit.Rule, int32(hit.Weight)
	}
	if f := se.Features; f != nil {
		r.Features = *f
	}
	return r, nil
}

// scored converts a row read back from login_events into a scored event:
// the event, all the features (those without a column of their own are
// recomputed from the event) and the decision. Times come back in UTC; decided_at and
// the lock's end have whole seconds.
func (r *record) scored() schemas.ScoredEvent {
	ev := &schemas.LoginEvent{
		EventID:       r.EventID,
		OccurredAt:    r.OccurredAt.UTC().Add(time.Duration(r.OccurredAtNs)),
		UserID:        r.UserID,
		Outcome:       schemas.Outcome(r.Outcome),
		IP:            r.IP,
		UserAgent:     r.UserAgent,
		DeviceID:      r.DeviceID,
		FailureReason: r.FailureReason,
		AuthMethod:    r.AuthMethod,
		TenantID:      r.TenantID,
	}
	if len(r.AttributeKeys) > 0 {
		ev.Attributes = make(map[string]string, len(r.AttributeKeys))
		for i, k := range r.AttributeKeys {
			if i < len(r.AttributeValues) {
				ev.Attributes[k] = r.AttributeValues[i]
			}
		}
	}
	if addr, err := schemas.ParseIP(r.IP); err == nil {
		ev.Addr = addr
	}
	f := new(schemas.Features)
	*f = r.Features
	f.SetEventFeatures(ev)
	d := &schemas.Decision{
		EventID:      ev.EventID,
		UserID:       ev.UserID,
		IP:           ev.IP,
		OccurredAt:   ev.OccurredAt,
		DecidedAt:    r.DecidedAt.UTC(),
		Score:        int(r.Score),
		Decision:     schemas.Verdict(r.Decision),
		Reasons:      make([]schemas.Reason, len(r.ReasonRules)),
		RulesVersion: r.RulesVersion,
	}
	if r.LockScope != "" {
		d.Lock = &schemas.Lock{Scope: schemas.LockScope(r.LockScope), Key: r.LockKey, Until: r.LockUntil.UTC(), Rule: r.LockRule}
		d.Lock.TenantID = lockTenant(d.Lock.Scope, r.TenantID)
	}
	for i := range d.Reasons {
		d.Reasons[i].Rule = r.ReasonRules[i]
		if i < len(r.ReasonWeights) {
			d.Reasons[i].Weight = int(r.ReasonWeights[i])
		}
		if i < len(r.ReasonDetails) {
			d.Reasons[i].Detail = r.ReasonDetails[i]
		}
	}
	for i, rule := range r.ShadowRules {
		hit := schemas.ShadowHit{Rule: rule}
		if i < len(r.ShadowWeights) {
			hit.Weight = int(r.ShadowWeights[i])
		}
		d.Shadow = append(d.Shadow, hit)
	}
	se := schemas.ScoredEvent{Event: ev, Features: f, Decision: d}
	if r.KafkaPartition >= 0 && r.KafkaOffset >= 0 {
		se.Position = schemas.StreamPosition{Kafka: true, Partition: r.KafkaPartition, Offset: r.KafkaOffset}
	}
	return se
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// count converts a non-negative int feature to UInt32, clamping.
func count(n int) uint32 {
	return uint32(min(max(n, 0), math.MaxUint32))
}

// clampDateTime brings t into the DateTime range (1970 to 2106), UTC.
func clampDateTime(t time.Time) time.Time {
	switch {
	case t.Unix() < 0:
		return epoch
	case t.Unix() > math.MaxUint32:
		return time.Unix(math.MaxUint32, 0).UTC()
	}
	return t.UTC()
}

// lockTenant is the tenant of a stored lock of scope, from the tenant of
// its row's event: history keeps no tenant of its own for a lock, since a
// lock that names a user is always on the user of the event that set or
// met it (the engine locks an event's own keys), and a lock of another
// scope has no tenant.
func lockTenant(scope schemas.LockScope, eventTenant string) string {
	if !scope.HasUser() {
		return ""
	}
	return eventTenant
}
