// Package kafkastream is the engine's Kafka adapter: a kafka-go consumer
// group on login-events with one worker per assigned partition, a decision
// publisher for login-decisions and a dead-letter publisher for
// login-events-dlq, and the followers that keep every instance in step:
// of the decisions, and of the address side of every instance's attempts
// on login-addresses (addresses.go). Offsets are committed only after a
// batch's decisions are acknowledged and its history is stored.
package kafkastream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas"
)

// Config configures the consumer and the publishers. It is the kafka
// section of the configuration file: the yaml tags are the keys, and the
// fields tagged "-" are set by the caller (the secrets, resolved from
// file: and env: references by the command, and the logger).
// DefaultConfig holds the defaults, and Validate (or ValidateSettings)
// every check, each naming its key by its full path (kafka.…).
type Config struct {
	Brokers        []string `yaml:"brokers"`
	GroupID        string   `yaml:"group_id"`
	EventsTopic    string   `yaml:"events_topic"`
	DecisionsTopic string   `yaml:"decisions_topic"`
	DLQTopic       string   `yaml:"dlq_topic"`
	// InstancesTopic is the compacted topic where the instances of the
	// group announce their partitions and HTTP addresses (RunInstances).
	InstancesTopic string `yaml:"instances_topic"`
	// Partitioner is how the gateway keys login-events to partitions
	// (Partitioners; PartitionerMurmur2, the Java client's, by default):
	// the instance directory finds a user's owner with it.
	Partitioner string `yaml:"partitioner"`
	Partitions  int    `yaml:"partitions"`  // partitions of topics created here
	Replication int    `yaml:"replication"` // replication factor of topics created here
	// CreateTopics says whether the command creates the topics at start
	// (EnsureTopics); the Stream itself never creates them.
	CreateTopics bool `yaml:"create_topics"`
	MaxBatch     int  `yaml:"max_batch"` // messages handled per batch
	// MaxInFlight is the number of batches per partition scored but not
	// yet committed: scoring overlaps the wait for the decisions'
	// acknowledgement and the history insert.
	MaxInFlight  int           `yaml:"max_in_flight"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// PublishBeforeHistory publishes a batch's decisions as soon as its
	// history rows are buffered, without waiting for their insert (the
	// offset is still committed only once they are inserted), when the
	// processor can (engine.PublishingProcessor). Decisions then no
	// longer wait for a history flush, so large, cheap inserts cost no
	// latency. A crash between the publish and the insert redelivers an
	// event history lacks: the command reads such decisions back at
	// start-up (PublishedDecisions, engine.Engine.WarmPublished) so that
	// the event gets the decision published (docs/reliability.md). On in
	// DefaultConfig.
	PublishBeforeHistory bool `yaml:"publish_before_history"`
	// SessionTimeout is how long the group coordinator waits without a
	// heartbeat before it gives a silent member's partitions to the
	// others (default DefaultSessionTimeout, at least
	// MinSessionTimeout): after a crash, the first part of the time a
	// moved partition waits (docs/scaling.md).
	SessionTimeout time.Duration `yaml:"session_timeout"`

	// ShareAddresses: the command publishes the address side of every
	// attempt scored (ShareAddresses) and follows the other instances'
	// (FollowAddresses), so that address counts are the cluster's
	// (docs/scaling.md, "Address signals across instances").
	// AddressesTopic carries them; AddressInterval is how often they are
	// published, at most a second; MaxAddressQueue bounds the attempts
	// waiting (beyond, they are dropped and counted).
	ShareAddresses  bool          `yaml:"share_addresses"`
	AddressesTopic  string        `yaml:"addresses_topic"`
	AddressInterval time.Duration `yaml:"address_interval"`
	MaxAddressQueue int           `yaml:"-"`

	// Security. Empty means plaintext without authentication.
	TLS           TLSConfig `yaml:"tls"`
	SASLMechanism string    `yaml:"sasl_mechanism"` // "", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	SASLUser      string    `yaml:"sasl_user"`
	SASLPassword  string    `yaml:"-"`

	// DecisionKeys authenticate the decisions topic: the first signs
	// every decision published, and a decision read back is applied only
	// when its MAC verifies under one of them (key rotation: keep the
	// previous key here until no instance signs with it). Required.
	DecisionKeys []DecisionKey `yaml:"-"`

	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig is the configuration before any file, environment or
// flag: the one place the Kafka defaults are written. New fills every
// zero field of its Config from it (CreateTopics aside: false is a
// choice).
func DefaultConfig() Config {
	return Config{
		GroupID:        "loginrisk",
		EventsTopic:    "login-events",
		DecisionsTopic: "login-decisions",
		DLQTopic:       "login-events-dlq",
		InstancesTopic: "login-instances",
		Partitioner:    PartitionerMurmur2,
		Partitions:     6,
		Replication:    1,
		CreateTopics:   true,
		MaxBatch:       500,
		MaxInFlight:    4,
		DrainTimeout:   20 * time.Second,
		// With history inserts of 50 000 rows or 1 s (history's
		// defaults), which cost ClickHouse least.
		PublishBeforeHistory: true,
		SessionTimeout:       DefaultSessionTimeout,
		ShareAddresses:       true,
		AddressesTopic:       "login-addresses",
		AddressInterval:      DefaultAddressInterval,
		MaxAddressQueue:      DefaultMaxAddressQueue,
	}
}

func (c *Config) setDefaults() {
	defaults.Fill(c, DefaultConfig())
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// ErrNoBrokers is the error of a configuration without brokers.
var ErrNoBrokers = errors.New("kafka.brokers: at least one broker is required")

// Validate reports everything wrong with the configuration: the
// settings (ValidateSettings), at least one broker (ErrNoBrokers) and
// the decision keys.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, ErrNoBrokers)
	}
	errs = append(errs, c.ValidateSettings())
	errs = append(errs, ValidateDecisionKeys(c.DecisionKeys))
	return errors.Join(errs...)
}

// ValidateSettings reports every setting that is wrong (broker addresses,
// partitions, batch sizes, SASL, TLS, topic names), leaving out the
// brokers and decision keys that only some callers need: the one check of
// the Kafka settings, for New and for the command's configuration alike.
func (c *Config) ValidateSettings() error {
	var errs []error
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka.brokers: %q is not host:port", b))
		}
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("kafka.partitions: %d must be at least 1", c.Partitions))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("kafka.max_batch: %d must be at least 1", c.MaxBatch))
	}
	if c.SessionTimeout != 0 && c.SessionTimeout < MinSessionTimeout {
		errs = append(errs, fmt.Errorf("kafka.session_timeout: %s is below the broker's default group.min.session.timeout.ms, %s", c.SessionTimeout, MinSessionTimeout))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("kafka.max_in_flight: %d must be at least 1", c.MaxInFlight))
	}
	switch c.SASLMechanism {
	case "", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl_mechanism: %q is not one of SCRAM-SHA-256, SCRAM-SHA-512", c.SASLMechanism))
	}
	if c.SASLMechanism != "" && (c.SASLUser == "" || c.SASLPassword == "") {
		errs = append(errs, errors.New("kafka.sasl_user and kafka.sasl_password are required with kafka.sasl_mechanism"))
	}
	// Zero is the default, filled by New.
	if c.AddressInterval != 0 && (c.AddressInterval < time.Millisecond || c.AddressInterval > time.Second) {
		errs = append(errs, fmt.Errorf("kafka.address_interval: %s must be between 1ms and 1s: it is most of the lag of the shared address counts", c.AddressInterval))
	}
	if c.MaxAddressQueue < 0 {
		errs = append(errs, fmt.Errorf("kafka.max_address_queue: %d must not be negative", c.MaxAddressQueue))
	}
	errs = append(errs, c.TLS.validate())
	for _, t := range []struct{ key, name string }{{"events_topic", c.EventsTopic}, {"decisions_topic", c.DecisionsTopic}, {"dlq_topic", c.DLQTopic}, {"instances_topic", c.InstancesTopic}, {"addresses_topic", c.AddressesTopic}} {
		if strings.ContainsAny(t.name, " /\\") {
			errs = append(errs, fmt.Errorf("kafka.%s: kafka topic %q: invalid name (no space, / or \\)", t.key, t.name))
		}
	}
	if _, err := NewBalancer(c.Partitioner); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Clients builds the client factory of the configuration's brokers,
// TLS and SASL set-up.
func (c *Config) Clients() (*Clients, error) {
	tlsCfg, err := c.TLS.Load()
	if err != nil {
		return nil, err
	}
	return NewClients(c.Brokers, tlsCfg, c.SASLMechanism, c.SASLUser, c.SASLPassword)
}

// DefaultSessionTimeout is the default Config.SessionTimeout, and
// MinSessionTimeout the least a broker accepts by default
// (group.min.session.timeout.ms).
const (
	DefaultSessionTimeout = 20 * time.Second
	MinSessionTimeout     = 6 * time.Second
)

// Defaults of the shared addresses: publishing every 100 ms keeps the
// lag of the address counts across instances well under a second
// (docs/scaling.md), and 200,000 queued attempts are 20 s at 10,000
// events/s, 14 MB at 72 bytes each (twice that at most with a batch the
// broker refused waiting to be published again).
const (
	DefaultAddressInterval = 100 * time.Millisecond
	DefaultMaxAddressQueue = 200_000
)

// Metrics counts what the adapter did; fields are read with atomic loads.
type Metrics struct {
	MessagesTotal      atomic.Int64 // messages fetched
	BatchesTotal       atomic.Int64
	DeadLetteredTotal  atomic.Int64
	DecisionsPublished atomic.Int64
	CommitsTotal       atomic.Int64
	// DecisionsFollowed counts other instances' lock decisions read back
	// from the decisions topic and applied; OwnDecisionsSkipped this
	// process's own decisions read back, all skipped (it applied their
	// locks when it made them).
	DecisionsFollowed   atomic.Int64
	OwnDecisionsSkipped atomic.Int64
	// Lock decisions read back and not applied: DecisionsUnsigned
	// carried no MAC, DecisionsBadMAC one that does not verify (forged,
	// altered, or signed with a key no longer accepted), DecisionsRefused
	// verified but the engine refused the lock (longer than the policy's
	// longest, a key beyond the field limits), DecisionsUndecodable are
	// not a Decision.
	DecisionsUnsigned    atomic.Int64
	DecisionsBadMAC      atomic.Int64
	DecisionsRefused     atomic.Int64
	DecisionsUndecodable atomic.Int64
	RetriesTotal         atomic.Int64 // batch handling retried after an error
	Lag                  atomic.Int64 // sum over owned partitions of the last known lag
	Connected            atomic.Bool  // the last broker round trip succeeded

	// AddressesPublished counts the attempts scored here whose address
	// side was published to the addresses topic, AddressesDropped those
	// that were not (the queue was full while the broker was slow or
	// down, or at shutdown); AddressesApplied the other instances' attempts counted
	// here, AddressBatchesRefused their batches not applied (unsigned, a
	// MAC that does not verify, undecodable). AddressLag is the age, in
	// nanoseconds, of the last batch applied when it was applied (from
	// its broker timestamp).
	AddressesPublished    atomic.Int64
	AddressesDropped      atomic.Int64
	AddressesApplied      atomic.Int64
	AddressBatchesRefused atomic.Int64
	AddressLag            atomic.Int64
}

// Stream owns the Kafka clients.
type Stream struct {
	cfg       Config
	clients   *Clients
	decisions *batchProducer
	dlq       *kafka.Writer
	metrics   Metrics
	// instance names this process on the decisions it publishes (header
	// HeaderInstance), so that its follower skips them: random per
	// process, so that after a restart its earlier decisions are read.
	instance []kafka.Header
	// signer signs the decisions published and verifies those followed;
	// addressSigner the same for the batches of shared addresses.
	signer, addressSigner *signer
	addresses             addressQueue // attempts to publish (addresses.go)
	// instances is the directory of the group's instances.
	instances *Instances
	// commitMu serialises offset commits: kafka-go sends the partition
	// workers' commits over one coordinator connection, where concurrent
	// waiters spin reading each other's responses.
	commitMu sync.Mutex
}

// New builds a Stream; it does not contact the brokers.
func New(cfg Config) (*Stream, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sg, err := newSigner(cfg.DecisionKeys)
	if err != nil {
		return nil, err
	}
	asg, err := newDomainSigner(addressMACDomain, cfg.DecisionKeys)
	if err != nil {
		return nil, err
	}
	s := &Stream{cfg: cfg, signer: sg, addressSigner: asg}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("kafkastream: instance id: %w", err)
	}
	s.instance = []kafka.Header{{Key: HeaderInstance, Value: []byte(hex.EncodeToString(id[:]))}}
	balancer, err := NewBalancer(cfg.Partitioner)
	if err != nil {
		return nil, err
	}
	s.instances = newInstances(s, balancer)
	if s.clients, err = cfg.Clients(); err != nil {
		return nil, err
	}
	s.decisions = s.clients.batchProducer(cfg.DecisionsTopic, 5)
	s.dlq = s.clients.Writer(cfg.DLQTopic, WriterOptions{BatchSize: cfg.MaxBatch, BatchTimeout: 2 * time.Millisecond, MaxAttempts: 5})
	return s, nil
}

// Metrics returns the adapter's counters.
func (s *Stream) Metrics() *Metrics { return &s.metrics }

// Clients returns the stream's client factory (its brokers, TLS and SASL).
func (s *Stream) Clients() *Clients { return s.clients }

// Config returns the effective configuration (defaults filled).
func (s *Stream) Config() Config { return s.cfg }

// EnsureTopics creates the events, decisions and dead-letter topics, and
// the compacted one-partition instances topic, when they are missing. A
// broker that is starting (not yet available, or fenced) is retried for up
// to 60 s.
func (s *Stream) EnsureTopics(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.createTopics(ctx)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		s.cfg.Logger.Debug("creating topics, retrying", "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

func (s *Stream) createTopics(ctx context.Context) error {
	client := s.clients.Client(15 * time.Second)
	var topics []kafka.TopicConfig
	for _, t := range []string{s.cfg.EventsTopic, s.cfg.DecisionsTopic, s.cfg.DLQTopic, s.cfg.AddressesTopic} {
		topics = append(topics, kafka.TopicConfig{Topic: t, NumPartitions: s.cfg.Partitions, ReplicationFactor: s.cfg.Replication})
	}
	topics = append(topics, kafka.TopicConfig{
		Topic: s.cfg.InstancesTopic, NumPartitions: 1, ReplicationFactor: s.cfg.Replication,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}},
	})
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("creating topics on %s: %w", strings.Join(s.cfg.Brokers, ","), err)
	}
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", topic, terr)
		}
	}
	return nil
}

// Ping checks that a broker answers a metadata request.
func (s *Stream) Ping(ctx context.Context) error {
	client := s.clients.Client(5 * time.Second)
	_, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{s.cfg.EventsTopic}})
	s.metrics.Connected.Store(err == nil)
	return err
}

// PublishDecisions implements engine.DecisionPublisher: it writes the
// decisions keyed by user_id, each signed (HeaderMACKey, HeaderMAC) and
// naming this process (HeaderInstance), and returns once all replicas
// acknowledged.
func (s *Stream) PublishDecisions(ctx context.Context, ds []*schemas.Decision) error {
	// The values, keys, headers and MACs of the batch are one allocation
	// each, not one or two per decision: the values are encoded one after
	// the other into one buffer, then cut.
	values := make([]byte, 0, decisionBytesHint*len(ds))
	ends := make([]int, len(ds))
	keyBytes := 0
	for i, d := range ds {
		var err error
		if values, err = schemas.EncodeDecision(values, d); err != nil {
			return fmt.Errorf("encoding decision %s: %w", d.EventID, err)
		}
		ends[i] = len(values)
		keyBytes += len(d.UserID)
	}
	msgs := make([]kafka.Message, len(ds))
	keys := make([]byte, 0, keyBytes)
	headers := make([]kafka.Header, 0, 3*len(ds))
	macs := make([]byte, 0, macHexLen*len(ds))
	start := 0
	for i, d := range ds {
		value := values[start:ends[i]:ends[i]]
		start = ends[i]
		keys = append(keys, d.UserID...)
		key := keys[len(keys)-len(d.UserID) : len(keys) : len(keys)]
		first := len(macs)
		macs = s.signer.sign(macs, key, value)
		mac := s.signer.headers(macs[first:len(macs):len(macs)])
		firstHeader := len(headers)
		headers = append(headers, s.instance[0], mac[0], mac[1])
		msgs[i] = kafka.Message{Key: key, Value: value, Headers: headers[firstHeader:len(headers):len(headers)]}
	}
	if err := s.decisions.produce(ctx, msgs); err != nil {
		return fmt.Errorf("publishing %d decisions to %s: %w", len(ds), s.cfg.DecisionsTopic, summarizeWriteErr(err))
	}
	s.metrics.DecisionsPublished.Add(int64(len(ds)))
	return nil
}

// decisionBytesHint is about the size of an encoded decision with a few
// reasons: PublishDecisions sizes its buffer with it (a larger batch
// only grows the buffer).
const decisionBytesHint = 512

// FetchMaxBytes bounds one fetch of a follower or a partition reader (the
// consumer's are consumerFetchBytes): a 32 MiB fetch livelocked the
// in-process broker of the demo, which builds each response on one
// goroutine, until the fetch's wait expired and the same fetch was sent
// again (docs/performance.md).
const FetchMaxBytes = 4 << 20

// Header names on the messages loginrisk publishes: dead-letters (the
// reason and where the message came from) and decisions (HeaderInstance).
const (
	HeaderError     = "loginrisk-error"
	HeaderField     = "loginrisk-field"
	HeaderTopic     = "loginrisk-source-topic"
	HeaderPartition = "loginrisk-source-partition"
	HeaderOffset    = "loginrisk-source-offset"
	// HeaderInstance, on a published decision, names the process that
	// made it (random per process). It is not covered by the MAC and
	// authenticates nothing: it only spares a process its own decisions.
	HeaderInstance = "loginrisk-instance"
	// HeaderMACKey, on a published decision, is the id of the
	// DecisionKey that signed it; HeaderMAC is the HMAC-SHA-256, in hex,
	// of the message key and value under that key (see sign.go).
	HeaderMACKey = "loginrisk-mac-key"
	HeaderMAC    = "loginrisk-mac"
	// HeaderTruncated is set, to the original size in bytes, when the
	// dead-lettered value was cut to MaxDeadLetterValue.
	HeaderTruncated = "loginrisk-truncated"
	// HeaderRedacted is set, to "password_fp", when the dead-lettered
	// value is only the part of a malformed message that could be read
	// without reaching a password_fp (engine.Rejected.Redacted). A
	// password_fp is never dead-lettered: a well-formed message loses
	// only that member.
	HeaderRedacted = "loginrisk-redacted"
)

// MaxDeadLetterValue bounds the value kept on the dead-letter topic. A
// message refused for its size may be larger than the dead-letter topic
// takes (the events topic's max.message.bytes can be raised, the broker's
// default is about 1 MB), and a dead-letter that cannot be written would
// stop its partition for good; the engine reads at most
// schemas.MaxEventBytes of a message anyway.
const MaxDeadLetterValue = 512 << 10

// DeadLetter implements engine.DeadLetterSink: the original key and value
// go to the dead-letter topic with the reason and the source position in
// headers.
func (s *Stream) DeadLetter(ctx context.Context, rejected []engine.Rejected) error {
	msgs := make([]kafka.Message, len(rejected))
	for i, r := range rejected {
		field := ""
		var fe *schemas.FieldError
		if errors.As(r.Err, &fe) {
			field = fe.Field
		} else if errors.Is(r.Err, engine.ErrEventIDConflict) {
			field = "event_id"
		}
		msgs[i] = kafka.Message{
			Key:   r.Message.Key,
			Value: r.Message.Value,
			Headers: []kafka.Header{
				{Key: HeaderError, Value: []byte(r.Err.Error())},
				{Key: HeaderField, Value: []byte(field)},
				{Key: HeaderTopic, Value: []byte(s.cfg.EventsTopic)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(r.Message.Partition))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Message.Offset, 10))},
			},
		}
		if r.Redacted {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: HeaderRedacted, Value: []byte("password_fp")})
		}
		if len(r.Message.Value) > MaxDeadLetterValue {
			msgs[i].Value = r.Message.Value[:MaxDeadLetterValue]
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(r.Message.Value)))})
		}
	}
	if err := s.dlq.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("dead-lettering %d messages to %s: %w", len(msgs), s.cfg.DLQTopic, summarizeWriteErr(err))
	}
	s.metrics.DeadLetteredTotal.Add(int64(len(msgs)))
	return nil
}

// summarizeWriteErr shortens kafka-go's per-message write errors, whose
// text repeats every message's error (a refused batch of 5 000 decisions
// logged 5 000 copies of MESSAGE_TOO_LARGE in one line), to a count of
// each distinct error. The result still matches the first error with
// errors.Is and errors.As. Other errors are returned as they are.
func summarizeWriteErr(err error) error {
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || werrs.Count() == 0 {
		return err
	}
	var first error
	var order []string
	counts := make(map[string]int)
	for _, e := range werrs {
		if e == nil {
			continue
		}
		if first == nil {
			first = e
		}
		msg := e.Error()
		if counts[msg] == 0 {
			order = append(order, msg)
		}
		counts[msg]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d messages failed: ", werrs.Count(), len(werrs))
	for i, msg := range order {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d × %s", counts[msg], msg)
	}
	return &writeErrSummary{text: b.String(), first: first}
}

type writeErrSummary struct {
	text  string
	first error
}

func (e *writeErrSummary) Error() string { return e.text }
func (e *writeErrSummary) Unwrap() error { return e.first }

// Close flushes and closes the dead-letter publisher (decisions are
// published synchronously, nothing of theirs waits).
func (s *Stream) Close() error {
	return s.dlq.Close()
}
