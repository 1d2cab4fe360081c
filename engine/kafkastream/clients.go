package kafkastream

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Clients makes the kafka-go readers, writers, consumer groups and admin
// clients of one set of brokers, with one TLS and SASL set-up: the one
// place a Kafka connection is configured, for the stream and for the load
// generators alike.
type Clients struct {
	brokers   []string
	dialer    *kafka.Dialer
	transport *kafka.Transport
}

// NewClients returns the factory for brokers with tlsCfg (nil: plain) and
// a SASL/SCRAM mechanism ("": none; SCRAM-SHA-256 or SCRAM-SHA-512).
func NewClients(brokers []string, tlsCfg *tls.Config, saslMechanism, user, password string) (*Clients, error) {
	c := &Clients{
		brokers:   brokers,
		dialer:    &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tlsCfg},
		transport: &kafka.Transport{TLS: tlsCfg, DialTimeout: 10 * time.Second},
	}
	if saslMechanism != "" {
		algo := scram.SHA256
		if saslMechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		mech, err := scram.Mechanism(algo, user, password)
		if err != nil {
			return nil, fmt.Errorf("kafka sasl: %w", err)
		}
		c.dialer.SASLMechanism = mech
		c.transport.SASL = mech
	}
	return c, nil
}

// Brokers returns the brokers' addresses.
func (c *Clients) Brokers() []string { return c.brokers }

// Client returns an admin client whose requests time out after timeout.
func (c *Clients) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.brokers...), Transport: c.transport, Timeout: timeout}
}

// PartitionReader returns a reader of one partition of topic, for the
// bench's readers (the consumer and the followers fetch with
// readPartition): fetches of up to maxBytes (0:
// FetchMaxBytes) waiting at most 250 ms, read errors (which the reader
// retries) logged at debug to log when it is not nil.
func (c *Clients) PartitionReader(topic string, partition, maxBytes int, log *slog.Logger) *kafka.Reader {
	if maxBytes == 0 {
		maxBytes = FetchMaxBytes
	}
	rc := kafka.ReaderConfig{
		Brokers: c.brokers, Topic: topic, Partition: partition, Dialer: c.dialer,
		MinBytes: 1, MaxBytes: maxBytes, MaxWait: 250 * time.Millisecond,
	}
	if log != nil {
		rc.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) { log.Debug("kafka reader: " + fmt.Sprintf(msg, args...)) })
	}
	return kafka.NewReader(rc)
}

// GroupReader returns a reader of topic in consumer group group, from the
// oldest message when the group has no offset, committing every second.
func (c *Clients) GroupReader(topic, group string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers: c.brokers, GroupID: group, Topic: topic, Dialer: c.dialer,
		MinBytes: 1, MaxBytes: FetchMaxBytes, MaxWait: 200 * time.Millisecond, StartOffset: kafka.FirstOffset,
		CommitInterval: time.Second,
	})
}

// ConsumerGroup returns consumer group id on topics, starting from the
// oldest message when the group has no offset; watchPartitions follows
// partitions added to the topics. sessionTimeout is the group session
// timeout (0: DefaultSessionTimeout); members heartbeat ten times in it.
// Group errors are logged at debug to log when it is not nil.
func (c *Clients) ConsumerGroup(id string, topics []string, watchPartitions bool, sessionTimeout time.Duration, log *slog.Logger) (*kafka.ConsumerGroup, error) {
	if sessionTimeout == 0 {
		sessionTimeout = DefaultSessionTimeout
	}
	gc := kafka.ConsumerGroupConfig{
		ID:                    id,
		Brokers:               c.brokers,
		Dialer:                c.dialer,
		Topics:                topics,
		StartOffset:           kafka.FirstOffset,
		HeartbeatInterval:     sessionTimeout / 10,
		SessionTimeout:        sessionTimeout,
		RebalanceTimeout:      20 * time.Second,
		JoinGroupBackoff:      time.Second,
		WatchPartitionChanges: watchPartitions,
		Timeout:               10 * time.Second,
	}
	if watchPartitions {
		gc.PartitionWatchInterval = 10 * time.Second
	}
	if log != nil {
		gc.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) { log.Debug("kafka group: " + fmt.Sprintf(msg, args...)) })
	}
	group, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer group %s: %w", id, err)
	}
	return group, nil
}

// WriterOptions shape a Writer.
type WriterOptions struct {
	BatchSize    int           // messages per batch
	BatchTimeout time.Duration // how long a partial batch waits
	MaxAttempts  int           // 0: kafka-go's default
	// AutoCreate lets a publish create a missing topic (a broker
	// setting may still refuse).
	AutoCreate bool
}

// Writer returns a writer that publishes to topic keyed with the Java
// client's partitioner (the same key goes to the same partition as from
// any other client), waiting for all replicas, in batches of at most the
// broker's default message.max.bytes.
func (c *Clients) Writer(topic string, o WriterOptions) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(c.brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              o.BatchSize,
		BatchBytes:             1 << 20,
		BatchTimeout:           o.BatchTimeout,
		MaxAttempts:            o.MaxAttempts,
		AllowAutoTopicCreation: o.AutoCreate,
		Transport:              c.transport,
	}
}

// batchProducer returns the producer of batches gathered by the caller to
// topic (produce.go), keyed with the Java client's partitioner as Writer
// is, each request tried up to maxAttempts times.
func (c *Clients) batchProducer(topic string, maxAttempts int) *batchProducer {
	return &batchProducer{client: c.Client(10 * time.Second), topic: topic, balancer: &kafka.Murmur2Balancer{}, maxAttempts: maxAttempts}
}
