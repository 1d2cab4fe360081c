package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// TestRateWriterDoesNotWaitForAcks: the fixed-rate producer stands in for
// a gateway, which keeps sending while a batch waits for the broker's
// acknowledgement. With the broker holding every produce request, handing
// it the next events still returns, and each batch is reported to the
// callback once the broker lets it through. A producer that waited for
// each acknowledgement held back every event due meanwhile: half of the
// p99 event → decision at 20 000/s (docs/performance.md).
func TestRateWriterDoesNotWaitForAcks(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	release := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		<-release // the broker holds the acknowledgement
		return nil, nil, false
	})
	k, err := kafkastream.NewClients(cluster.ListenAddrs(), nil, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	acked := make(chan int, 10)
	w := newRateWriter(k, "rate-writer-test", func(msgs []kafka.Message, err error) {
		if err != nil {
			t.Errorf("batch of %d not written: %v", len(msgs), err)
		}
		acked <- len(msgs)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	returned := make(chan error, 1)
	go func() {
		var err error
		for i := range 3 {
			if err = w.WriteMessages(ctx, kafka.Message{Key: []byte("alice"), Value: []byte{byte('a' + i)}}); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond) // past the writer's linger: a batch each
		}
		returned <- err
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("handing the events over: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the producer waited for the broker's acknowledgement before sending the next events")
	}
	close(release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 3 {
		select {
		case m := <-acked:
			n += m
		case <-ctx.Done():
			t.Fatalf("%d of 3 events acknowledged", n)
		}
	}
}
