package kafkastream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
)

// The partitioners a gateway may key login-events with (Config.Partitioner):
// the one that maps a user_id to its partition must be the gateway's, or
// the instance directory names the wrong owner.
const (
	// PartitionerMurmur2 is the Java client's default (murmur2 of the
	// key), which loginrisk produce, the load generators and librdkafka's
	// murmur2_random use too. The default.
	PartitionerMurmur2 = "murmur2"
	// PartitionerCRC32 is librdkafka's default, consistent_random (CRC32
	// of the key): confluent-kafka-go, Python, .NET, Node's rdkafka.
	PartitionerCRC32 = "crc32"
	// PartitionerFNV1a is Sarama's default hash partitioner (FNV-1a).
	PartitionerFNV1a = "fnv1a"
)

// Partitioners lists the accepted values of Config.Partitioner.
func Partitioners() []string {
	return []string{PartitionerMurmur2, PartitionerCRC32, PartitionerFNV1a}
}

// NewBalancer returns the kafka-go balancer of a partitioner name ("" is
// PartitionerMurmur2): the writers of the events topic and the instance
// directory both use it, so that a key goes to the partition the directory
// looks up.
func NewBalancer(name string) (kafka.Balancer, error) {
	switch name {
	case "", PartitionerMurmur2:
		return &kafka.Murmur2Balancer{}, nil
	case PartitionerCRC32:
		return &kafka.CRC32Balancer{}, nil
	case PartitionerFNV1a:
		return &kafka.Hash{}, nil
	}
	return nil, fmt.Errorf("kafka.partitioner: %q is not one of %v", name, Partitioners())
}

// instanceRecord is one message of the instances topic, keyed by the
// instance id: which partitions of the events topic an instance owns in
// which generation of the consumer group, and where its HTTP API is.
type instanceRecord struct {
	Instance   string    `json:"instance"`
	Group      string    `json:"group"`
	Topic      string    `json:"topic"`
	Generation int32     `json:"generation"`
	Partitions []int     `json:"partitions"`
	HTTP       string    `json:"http,omitempty"`
	At         time.Time `json:"at"`
}

// InstancesInterval is how often an instance announces itself on the
// instances topic besides at every assignment; a record not renewed for
// instanceExpiry is ignored.
const InstancesInterval = 5 * time.Second

// instanceExpiry is how long an instance's record counts without being
// renewed: three announcements missed. It covers an instance killed
// without its goodbye until the group gives its partitions away.
const instanceExpiry = 3 * InstancesInterval

// Instances is the directory of the consumer group's instances: which
// instance owns which partition of the events topic, and its HTTP
// address. It implements engine.OwnerDirectory. Every instance announces
// itself on the instances topic (RunInstances) and reads every other's
// announcements; its own partitions it knows from its consumer group.
type Instances struct {
	stream   *Stream
	self     string
	balancer kafka.Balancer
	// announce is signalled when the assignment changes.
	announce chan struct{}

	mu sync.RWMutex
	// own is this process's current assignment; ownGen its generation
	// (-1: none).
	own    []int
	ownGen int32
	// records are the other instances' latest records, by instance id.
	records map[string]instanceRecord
	// owners[p] is the best record claiming partition p (nil: none);
	// ids is 0..n-1 for the balancer, n the events topic's partitions.
	owners []*instanceRecord
	ids    []int
}

func newInstances(s *Stream, balancer kafka.Balancer) *Instances {
	return &Instances{
		stream: s, self: string(s.instance[0].Value), balancer: balancer,
		announce: make(chan struct{}, 1), ownGen: -1, records: make(map[string]instanceRecord),
	}
}

// Instances returns the stream's instance directory.
func (s *Stream) Instances() *Instances { return s.instances }

// Self implements engine.OwnerDirectory: this process's instance id, the
// one on its decisions (HeaderInstance).
func (d *Instances) Self() string { return d.self }

// Owner implements engine.OwnerDirectory: the instance that owns the
// partition userID is keyed to, by the configured partitioner. This
// process's own assignment wins; otherwise the record with the highest
// generation claiming the partition, unless it expired.
func (d *Instances) Owner(userID string) (engine.Owner, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.ids) == 0 {
		return engine.Owner{}, false
	}
	p := d.balancer.Balance(kafka.Message{Key: []byte(userID)}, d.ids...)
	if slices.Contains(d.own, p) {
		return engine.Owner{Instance: d.self, Self: true}, true
	}
	if p >= len(d.owners) || d.owners[p] == nil || time.Since(d.owners[p].At) > instanceExpiry {
		return engine.Owner{}, false
	}
	r := d.owners[p]
	return engine.Owner{Instance: r.Instance, URL: r.HTTP}, true
}

// assigned records a new assignment of the consumer group (the hook of
// Stream.Run) and has it announced.
func (d *Instances) assigned(generation int32, partitions []int) {
	d.mu.Lock()
	d.own, d.ownGen = slices.Clone(partitions), generation
	d.mu.Unlock()
	select {
	case d.announce <- struct{}{}:
	default:
	}
}

// revoked forgets the assignment of a generation that ended, unless a
// newer one replaced it already.
func (d *Instances) revoked(generation int32) {
	d.mu.Lock()
	if d.ownGen == generation {
		d.own = nil
	}
	d.mu.Unlock()
}

// setPartitions sets the events topic's partition count.
func (d *Instances) setPartitions(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n == len(d.ids) {
		return
	}
	d.ids = make([]int, n)
	for i := range d.ids {
		d.ids[i] = i
	}
	d.resolveLocked()
}

// apply takes one record of another instance (nil value: its goodbye).
func (d *Instances) apply(id string, r *instanceRecord) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r == nil {
		delete(d.records, id)
	} else {
		d.records[id] = *r
	}
	d.resolveLocked()
}

// resolveLocked recomputes the owner of every partition: among the
// unexpired records, the highest generation claiming it (generations of
// a group only grow, so a newer assignment wins over a record not yet
// renewed).
func (d *Instances) resolveLocked() {
	owners := make([]*instanceRecord, len(d.ids))
	for id := range d.records {
		r := d.records[id]
		if time.Since(r.At) > instanceExpiry {
			continue
		}
		for _, p := range r.Partitions {
			if p < 0 || p >= len(owners) {
				continue
			}
			if cur := owners[p]; cur == nil || r.Generation > cur.Generation {
				owners[p] = &r
			}
		}
	}
	d.owners = owners
}

// RunInstances announces this instance on the instances topic, with its
// HTTP API's base URL advertise (empty: none), at every assignment and
// every InstancesInterval, and follows every instance's announcements
// into the directory, until ctx ends; then it publishes its goodbye (a
// tombstone) so that the others stop forwarding to it at once. Records
// are signed like decisions and an unsigned or forged one is ignored.
func (s *Stream) RunInstances(ctx context.Context, advertise string) error {
	defer label(ctx, "instances")()
	d := s.instances
	log := s.cfg.Logger.With("topic", s.cfg.InstancesTopic)
	w := s.clients.Writer(s.cfg.InstancesTopic, WriterOptions{BatchSize: 1, BatchTimeout: time.Millisecond, MaxAttempts: 3})
	defer w.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	partitions, err := s.partitionsOf(ctx, s.cfg.InstancesTopic, log)
	if err != nil {
		return nil // ctx ended
	}
	for _, p := range partitions {
		wg.Go(func() { d.follow(ctx, p, log) })
	}

	client := s.clients.Client(5 * time.Second)
	tick := time.NewTicker(InstancesInterval)
	defer tick.Stop()
	failures := 0
	for {
		d.refreshPartitions(ctx, client)
		if err := d.publish(ctx, w, advertise); err != nil && ctx.Err() == nil {
			failures++
			if failures == 1 || failures%12 == 0 {
				log.Warn("announcing this instance failed, retrying", "attempts", failures, "err", err)
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			bye, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := d.goodbye(bye, w)
			cancel()
			if err != nil {
				log.Warn("announcing this instance's departure failed; the others forget it within the expiry", "expiry", instanceExpiry, "err", err)
			}
			return nil
		case <-tick.C:
		case <-d.announce:
		}
	}
}

// refreshPartitions reads the events topic's partition count.
func (d *Instances) refreshPartitions(ctx context.Context, client *kafka.Client) {
	topic := d.stream.cfg.EventsTopic
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return // kept: the next tick retries
	}
	for _, t := range resp.Topics {
		if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
			d.setPartitions(len(t.Partitions))
		}
	}
	// Records expire with time, not only with messages.
	d.mu.Lock()
	d.resolveLocked()
	d.mu.Unlock()
}

// publish announces the current assignment.
func (d *Instances) publish(ctx context.Context, w *kafka.Writer, advertise string) error {
	s := d.stream
	d.mu.RLock()
	r := instanceRecord{
		Instance: d.self, Group: s.cfg.GroupID, Topic: s.cfg.EventsTopic,
		Generation: d.ownGen, Partitions: slices.Clone(d.own), HTTP: advertise, At: time.Now().UTC(),
	}
	d.mu.RUnlock()
	if r.Partitions == nil {
		r.Partitions = []int{}
	}
	value, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("encoding the instance record: %w", err)
	}
	return d.write(ctx, w, value)
}

// goodbye publishes this instance's tombstone.
func (d *Instances) goodbye(ctx context.Context, w *kafka.Writer) error {
	return d.write(ctx, w, nil)
}

// write publishes one signed message keyed by this instance's id.
func (d *Instances) write(ctx context.Context, w *kafka.Writer, value []byte) error {
	key := []byte(d.self)
	mac := d.stream.signer.headers(d.stream.signer.sign(nil, key, value))
	if err := w.WriteMessages(ctx, kafka.Message{Key: key, Value: value, Headers: mac[:]}); err != nil {
		return fmt.Errorf("publishing to %s: %w", d.stream.cfg.InstancesTopic, summarizeWriteErr(err))
	}
	return nil
}

// follow reads one partition of the instances topic from its start
// (the topic is compacted: one record per instance) until ctx ends; a
// read error does not stop it (readOn), since an instance that stopped
// reading would forward to stale owners, or to none.
func (d *Instances) follow(ctx context.Context, partition int, log *slog.Logger) {
	readOn(ctx, "the instances topic", kafka.FirstOffset, log.With("partition", partition), func(ctx context.Context, offset int64) (int64, error) {
		return d.stream.readPartition(ctx, d.stream.cfg.InstancesTopic, partition, 1<<20, offset, nil, func(msgs []kafka.Message) {
			for _, m := range msgs {
				d.take(m)
			}
		})
	})
}

// take applies one message of the instances topic.
func (d *Instances) take(m kafka.Message) {
	s := d.stream
	log := s.cfg.Logger.With("topic", s.cfg.InstancesTopic, "partition", m.Partition, "offset", m.Offset)
	id := string(m.Key)
	if id == d.self {
		return // this process knows its own assignment
	}
	if err := s.signer.verify(m.Headers, m.Key, m.Value); err != nil {
		log.Warn("ignoring an instance record that is not authentic", "err", err)
		return
	}
	if len(m.Value) == 0 {
		d.apply(id, nil)
		return
	}
	r, err := decodeInstanceRecord(m.Value, id)
	if err != nil {
		log.Warn("ignoring a malformed instance record", "err", err)
		return
	}
	if r.Group != s.cfg.GroupID || r.Topic != s.cfg.EventsTopic {
		return // another deployment sharing the topic
	}
	// The broker's timestamp, not the sender's clock, dates the record
	// when it is earlier: a skewed clock does not keep a dead instance
	// alive.
	if !m.Time.IsZero() && m.Time.Before(r.At) {
		r.At = m.Time
	}
	d.apply(id, r)
}

// decodeInstanceRecord decodes a record and checks that it names the
// instance of its message key.
func decodeInstanceRecord(value []byte, key string) (*instanceRecord, error) {
	r := new(instanceRecord)
	dec := json.NewDecoder(bytes.NewReader(value))
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if r.Instance != key {
		return nil, fmt.Errorf("record of instance %q under key %q", r.Instance, key)
	}
	if r.At.IsZero() {
		return nil, errors.New("record has no time")
	}
	return r, nil
}

// String describes the directory for logs and test failures: the
// partition count, this instance's assignment and the other instances'
// records.
func (d *Instances) String() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "instance %s: %d partitions, own %v in generation %d", d.self, len(d.ids), d.own, d.ownGen)
	for id, r := range d.records {
		fmt.Fprintf(&b, "; %s: %v in generation %d at %s (%s ago) http %s", id, r.Partitions, r.Generation, r.At.Format(time.RFC3339Nano), time.Since(r.At).Round(time.Millisecond), r.HTTP)
	}
	return b.String()
}
