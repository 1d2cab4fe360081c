package kafkastream

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// createTopic creates topic with partitions through clients.
func createTopic(ctx context.Context, t *testing.T, clients *Clients, topic string, partitions int) {
	t.Helper()
	resp, err := clients.Client(15*time.Second).CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err == nil {
		for _, e := range resp.Errors {
			err = errors.Join(err, e)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatchProducerWaitsForANewTopic: a producer whose metadata cache was
// filled before its topic existed (another instance created the topic
// since) asks again until the cache's next refresh brings the topic,
// instead of failing the batch at once with an unknown topic.
func TestBatchProducerWaitsForANewTopic(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 2*time.Minute)
	var clients [2]*Clients
	for i := range clients {
		c, err := NewClients(brokers, nil, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	topic := testkit.Name("newtopic")
	p := clients[0].batchProducer(topic, 5)
	if resp, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}}); err != nil || len(resp.Topics) != 1 || resp.Topics[0].Error == nil {
		t.Fatalf("before the topic exists, its metadata should say it is unknown: %+v, %v", resp, err)
	}
	createTopic(ctx, t, clients[1], topic, 2)
	if err := p.produce(ctx, []kafka.Message{{Key: []byte("alice"), Value: []byte("first")}}); err != nil {
		t.Fatalf("the first produce to a topic another instance just created: %v", err)
	}
}

// TestBatchProducer: a batch goes to the partitions the Java client's
// partitioner picks (as kafka-go's Writer sent it), in order within each
// partition, split into requests the broker accepts when it is over
// produceMaxBytes; a message the broker refuses fails with the messages
// after it on its partition, reported per message as kafka.WriteErrors,
// and not the other partitions'.
func TestBatchProducer(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 2*time.Minute)
	const partitions = 6
	clients, err := NewClients(brokers, nil, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	topic := testkit.Name("produce")
	createTopic(ctx, t, clients, topic, partitions)
	p := clients.batchProducer(topic, 5)
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	want := func(key []byte) int { return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: key}, ids...) }

	// Three users, 1,500 messages of 1 KB each: over produceMaxBytes on
	// each user's partition.
	users := []string{"alice", "bob", "carol"}
	var msgs []kafka.Message
	pad := bytes.Repeat([]byte("x"), 1000)
	for i := range 4500 {
		user := users[i%len(users)]
		msgs = append(msgs, kafka.Message{Key: []byte(user), Value: append([]byte(strconv.Itoa(i)+" "), pad...)})
	}
	// Let the topic's partitions get their leader before producing.
	if err := engine.Retry(ctx, retryBackoff(), func(int) error { _, err := p.partitions(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if err := p.produce(ctx, msgs); err != nil {
		t.Fatalf("produce: %v", err)
	}
	got := readPartitions(ctx, t, clients, topic, partitions, len(msgs))
	for part, values := range got {
		last := -1
		for _, m := range values {
			if w := want(m.Key); w != part {
				t.Fatalf("key %s on partition %d, the partitioner picks %d", m.Key, part, w)
			}
			seq, err := strconv.Atoi(string(m.Value[:bytes.IndexByte(m.Value, ' ')]))
			if err != nil {
				t.Fatal(err)
			}
			if seq <= last {
				t.Fatalf("partition %d: message %d after %d", part, seq, last)
			}
			last = seq
		}
	}

	// A message over the broker's message.max.bytes on one user's
	// partition: it and the partition's messages after it fail (they
	// would be out of order), the others are written.
	refused := []kafka.Message{
		{Key: []byte("alice"), Value: []byte("before")},
		{Key: []byte("alice"), Value: bytes.Repeat([]byte("y"), 2<<20)},
		{Key: []byte("bob"), Value: []byte("written")},
		{Key: []byte("alice"), Value: []byte("after")},
	}
	if want(refused[0].Key) == want(refused[2].Key) {
		t.Fatal("test set-up: alice and bob share a partition")
	}
	err = p.produce(ctx, refused)
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != len(refused) {
		t.Fatalf("produce of a refused message: %v, want kafka.WriteErrors for %d messages", err, len(refused))
	}
	if werrs[0] != nil || werrs[1] == nil || werrs[2] != nil || werrs[3] == nil {
		t.Errorf("errors per message %v: want alice's first and bob's written, alice's large one and the one after it failed", []error(werrs))
	}
	if !errors.Is(summarizeWriteErr(err), kafka.MessageSizeTooLarge) {
		t.Errorf("error %v is not the broker's MESSAGE_TOO_LARGE", err)
	}
}

// readPartitions reads n messages from the partitions of topic, by
// partition.
func readPartitions(ctx context.Context, t *testing.T, clients *Clients, topic string, partitions, n int) map[int][]kafka.Message {
	t.Helper()
	out := make(map[int][]kafka.Message)
	total := 0
	for part := range partitions {
		r := clients.PartitionReader(topic, part, 0, nil)
		end, err := func() (int64, error) {
			conn, err := clients.dialer.DialLeader(ctx, "tcp", clients.brokers[0], topic, part)
			if err != nil {
				return 0, err
			}
			defer conn.Close()
			return conn.ReadLastOffset()
		}()
		if err != nil {
			t.Fatalf("partition %d: %v", part, err)
		}
		for offset := int64(0); offset < end; offset++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", part, offset, err)
			}
			out[part] = append(out[part], m)
		}
		r.Close()
		total += int(end)
	}
	if total != n {
		t.Fatalf("%d messages on the topic, want %d", total, n)
	}
	return out
}
