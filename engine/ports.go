package engine

import (
	"context"
	"net/netip"
	"time"

	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// Enricher fills the enrichment part of the features (GeoIP, device).
// enrich.Enricher implements it.
type Enricher interface {
	Enrich(ev *schemas.LoginEvent, f *schemas.Features)
}

// State is the behavioural memory: Observe reads the features of an attempt
// and records it in the windows in one step; Peek only reads; Learn, called
// once the engine has allowed a success, teaches the user's profile and
// trusted contexts (a challenged or refused success teaches nothing).
// state.Store implements it.
type State interface {
	Observe(ev *schemas.LoginEvent, f *schemas.Features)
	Peek(ev *schemas.LoginEvent, f *schemas.Features)
	Learn(ev *schemas.LoginEvent, f *schemas.Features)
}

// TrustReader lists a user's trusted contexts (devices and networks of
// allowed successes, with since when); state.Store implements it. The
// engine quotes them in the trusted_context reason and the user status.
type TrustReader interface {
	TrustedContexts(tenantID, userID string, at time.Time) []schemas.TrustedContext
}

// AddressState is the address side of the state, which instances share
// (docs/scaling.md, "Address signals across instances"): AddressAttempt
// gives the address side of an attempt just observed (false: it has
// none), ObserveAddress counts one that another instance observed, in
// the address, network and ASN state only. state.Store implements it.
type AddressState interface {
	AddressAttempt(ev *schemas.LoginEvent, f *schemas.Features, a *schemas.AddressAttempt) bool
	ObserveAddress(a *schemas.AddressAttempt)
}

// AddressPublisher hands the address side of each attempt this instance
// scores to the other instances; kafkastream.Stream implements it.
// It is called while the event is scored, so it must not block: it
// queues, and drops (and counts) what does not fit.
type AddressPublisher interface {
	PublishAddress(a *schemas.AddressAttempt)
}

// RuleSource hands out the current compiled rule set; rules.Manager
// implements it, and a reload swaps the set between two events.
type RuleSource interface {
	Current() *rules.Set
}

// CounterReader reads current window counters without an attempt, for
// the status lookups, sorted by name (schemas.Counters); state.Store
// implements it.
type CounterReader interface {
	UserCounters(tenantID, userID string, at time.Time) schemas.Counters
	IPCounters(addr netip.Addr, at time.Time) schemas.Counters
}

// ProfileLoader seeds a user's profile (known places, devices, last
// success) at warm-up; state.Store implements it.
type ProfileLoader interface {
	LoadProfile(p *schemas.UserProfile)
}

// FeedbackWriter stores analysts' labels (the ClickHouse feedback table)
// and returns once the label is stored; history.Writer implements it.
type FeedbackWriter interface {
	RecordFeedback(ctx context.Context, fb schemas.Feedback) error
}

// HostileMarker marks the network of an address hostile (the
// network_hostile feature); state.Store implements it.
type HostileMarker interface {
	MarkHostile(addr netip.Addr, at time.Time)
}

// DecisionPublisher publishes decisions (to the login-decisions topic) and
// returns only once the broker has acknowledged every one of them.
type DecisionPublisher interface {
	PublishDecisions(ctx context.Context, decisions []*schemas.Decision) error
}

// HistoryWriter stores scored events durably (ClickHouse) and returns only
// once every one of them is inserted. Implementations batch across callers
// and block when their buffer is full, which is the back-pressure that slows
// the Kafka consumer.
type HistoryWriter interface {
	WriteHistory(ctx context.Context, events []schemas.ScoredEvent) error
}

// HistoryEnqueuer is a HistoryWriter that can take events without waiting
// for their insert: EnqueueHistory returns once they are buffered, blocking
// only while the buffer is full (the back-pressure), and durable returns
// once they are inserted. Events are inserted in the order they were
// enqueued. history.Writer implements it; with kafka.publish_before_history
// the stream then publishes a batch's decisions at once and commits its
// offset when durable returns.
type HistoryEnqueuer interface {
	EnqueueHistory(ctx context.Context, events []schemas.ScoredEvent) (durable func(context.Context) error, err error)
}

// Recorder is what "recording" a decision means: publish it and keep its
// history. Either part may be nil (replay has neither).
type Recorder struct {
	Publisher DecisionPublisher
	History   HistoryWriter
}

// Record stores a batch's history, then publishes its decisions, and
// returns the first error. History goes first: an event whose decision
// is on the topic is then always known to a restarted engine (warm-up
// reads history), so a redelivery never carries a different decision.
func (r Recorder) Record(ctx context.Context, batch []schemas.ScoredEvent) error {
	if len(batch) == 0 {
		return nil
	}
	if r.History != nil {
		if err := r.History.WriteHistory(ctx, batch); err != nil {
			return err
		}
	}
	return r.publish(ctx, batch)
}

// publish publishes the decisions of batch, when there is a Publisher.
func (r Recorder) publish(ctx context.Context, batch []schemas.ScoredEvent) error {
	if r.Publisher == nil || len(batch) == 0 {
		return nil
	}
	ds := make([]*schemas.Decision, len(batch))
	for i := range batch {
		ds[i] = batch[i].Decision
	}
	return r.Publisher.PublishDecisions(ctx, ds)
}

// enqueue hands batch to the history without waiting for its insert when
// the history is a HistoryEnqueuer, and returns what waits for it.
func (r Recorder) enqueue(ctx context.Context, batch []schemas.ScoredEvent) (durable func(context.Context) error, err error) {
	switch h := r.History.(type) {
	case nil:
		return func(context.Context) error { return nil }, nil
	case HistoryEnqueuer:
		return h.EnqueueHistory(ctx, batch)
	default:
		return func(ctx context.Context) error { return h.WriteHistory(ctx, batch) }, nil
	}
}

// WarmSource rebuilds state at start-up from history, so a restart does not
// hand attackers a fresh window. Newest returns the newest occurred_at
// stored (zero when there is none), the warm-up's anchor in event time;
// Profiles streams every user's profile (one aggregate query); Recent
// streams the scored events since a time in event-time order (the
// windows); ActiveLocks returns the locks active at a time. None of them
// includes the records of administrators' actions, which are not login
// attempts.
type WarmSource interface {
	Newest(ctx context.Context) (time.Time, error)
	Profiles(ctx context.Context, fn func(*schemas.UserProfile) error) error
	Recent(ctx context.Context, since time.Time, fn func(schemas.ScoredEvent) error) error
	ActiveLocks(ctx context.Context, at time.Time) ([]schemas.Lock, error)
}

// PublishedSource reads back the decisions published to the decisions
// topic: PublishedDecisions calls fn for each authenticated decision
// whose message the broker timestamped at or after since, up to the end
// of the topic when it is called, then returns; fn is never called
// concurrently. kafkastream.Stream implements it; WarmPublished reads
// with it the decisions published ahead of their history rows
// (kafka.publish_before_history) that a crash may have left out of
// history.
type PublishedSource interface {
	PublishedDecisions(ctx context.Context, since time.Time, fn func(*schemas.Decision) error) error
}

// OffenceSource streams, in event-time order and each once, the scored
// events in history at or after since and before until whose decision
// carries a lock (set or reported); history.Writer implements it. The
// warm-up reads with it the offences older than its span that still
// escalate the next lock (offenceLookback). Without it, offences older
// than the span are forgotten, and a lock active at the anchor counts
// once.
type OffenceSource interface {
	Locking(ctx context.Context, since, until time.Time, fn func(schemas.ScoredEvent) error) error
}

// Message is one raw login event as it arrived from a stream.
type Message struct {
	Key       []byte
	Value     []byte
	Partition int
	Offset    int64
	Time      time.Time // broker timestamp
}

// Rejected is a message that could not be scored, with the reason.
type Rejected struct {
	Message Message // its Value without the password_fp (schemas.RedactPasswordFP)
	Err     error
	// Redacted is set when Message.Value is only the part of the message
	// that could be walked without reaching a password_fp: the message
	// was malformed there, so the rest is not kept.
	Redacted bool
}

// DeadLetterSink keeps messages that cannot be scored (the
// login-events-dlq topic) and returns once they are stored, so the offset
// can be committed past them.
type DeadLetterSink interface {
	DeadLetter(ctx context.Context, rejected []Rejected) error
}

// Batch is a scored batch of messages waiting to be recorded.
type Batch struct {
	Scored   []schemas.ScoredEvent
	Rejected []Rejected

	// What Publish did, so that a retry does not do it again.
	durable   func(context.Context) error // the history rows are enqueued
	published bool                        // the decisions are published
}

// BatchProcessor is what a stream adapter drives, per partition: Prepare
// decodes and scores a batch once (state is updated once), then Record is
// called until it succeeds; only then may the offsets be committed.
// Engine implements it.
type BatchProcessor interface {
	Prepare(msgs []Message) *Batch
	Record(ctx context.Context, b *Batch) error
}

// PublishingProcessor is a BatchProcessor that can record a batch in two
// steps, so that its decisions do not wait for the history insert:
// Publish is called until it succeeds (dead letters and decisions stored,
// history rows handed to the writer), then durable until it succeeds;
// only then may the offsets be committed. Engine implements it.
type PublishingProcessor interface {
	BatchProcessor
	Publish(ctx context.Context, b *Batch) (durable func(context.Context) error, err error)
}

// Owner is the instance that owns a user's partition of the events topic,
// where the user's state lives.
type Owner struct {
	// Instance is the owner's instance id (random per process).
	Instance string
	// URL is the owner's advertised HTTP API base URL
	// (http://host:port), where a request about the user can be
	// forwarded.
	URL string
	// Self reports that this process owns the partition.
	Self bool
}

// OwnerDirectory says which instance owns a user, so that a request
// about the user that reaches another instance can be answered with the
// owner's state. Owner returns false when no instance is known to own
// the user's partition (a rebalance under way, or no instance
// announced it yet). kafkastream.Instances implements it; the HTTP API
// forwards with it.
type OwnerDirectory interface {
	Owner(userID string) (Owner, bool)
	// Self is this process's instance id.
	Self() string
}
