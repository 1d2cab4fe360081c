package kafkastream

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestInstancesOwner: the directory's answer for a user is this
// process's own assignment first, then the record with the highest
// generation claiming the user's partition, unless it expired or its
// instance said goodbye; the partition is the configured partitioner's.
func TestInstancesOwner(t *testing.T) {
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, DecisionKeys: []DecisionKey{{ID: "k", Secret: []byte("instances-test-key-0123456789abcdef")}}})
	if err != nil {
		t.Fatal(err)
	}
	d := s.Instances()
	if _, ok := d.Owner("alice"); ok {
		t.Fatal("an owner before the partition count is known")
	}
	d.setPartitions(6)
	var murmur kafka.Murmur2Balancer
	part := func(user string) int { return murmur.Balance(kafka.Message{Key: []byte(user)}, 0, 1, 2, 3, 4, 5) }
	p := part("alice")
	now := time.Now()
	d.apply("old", &instanceRecord{Instance: "old", Generation: 3, Partitions: []int{p}, HTTP: "http://old:8080", At: now})
	d.apply("new", &instanceRecord{Instance: "new", Generation: 4, Partitions: []int{p}, HTTP: "http://new:8080", At: now})
	d.apply("other", &instanceRecord{Instance: "other", Generation: 9, Partitions: []int{(p + 1) % 6}, HTTP: "http://other:8080", At: now})
	if o, ok := d.Owner("alice"); !ok || o.Instance != "new" || o.URL != "http://new:8080" || o.Self {
		t.Errorf("alice's owner %+v %v, want the newer generation's", o, ok)
	}
	d.apply("new", nil) // goodbye
	if o, ok := d.Owner("alice"); !ok || o.Instance != "old" {
		t.Errorf("after the newer instance's goodbye: %+v %v, want the older claim", o, ok)
	}
	d.apply("old", &instanceRecord{Instance: "old", Generation: 3, Partitions: []int{p}, HTTP: "http://old:8080", At: now.Add(-2 * instanceExpiry)})
	if o, ok := d.Owner("alice"); ok {
		t.Errorf("an expired record still owns alice: %+v", o)
	}
	d.assigned(5, []int{p})
	if o, ok := d.Owner("alice"); !ok || !o.Self || o.Instance != d.Self() {
		t.Errorf("alice's partition is assigned here, owner %+v %v", o, ok)
	}
	d.revoked(4) // an older generation's end changes nothing
	if o, _ := d.Owner("alice"); !o.Self {
		t.Errorf("an old generation's end revoked the current assignment")
	}
	d.revoked(5)
	if o, ok := d.Owner("alice"); ok && o.Self {
		t.Errorf("the generation ended, yet alice is still owned here")
	}

	// Another partitioner maps users elsewhere: the directory follows
	// the configured one.
	c, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Partitioner: PartitionerCRC32, DecisionKeys: s.cfg.DecisionKeys})
	if err != nil {
		t.Fatal(err)
	}
	dc := c.Instances()
	dc.setPartitions(6)
	var crc kafka.CRC32Balancer
	moved := 0
	for _, user := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		want := crc.Balance(kafka.Message{Key: []byte(user)}, 0, 1, 2, 3, 4, 5)
		dc.assigned(1, []int{want})
		if o, ok := dc.Owner(user); !ok || !o.Self {
			t.Errorf("crc32: %s is in partition %d, assigned here, but the owner is %+v", user, want, o)
		}
		if want != part(user) {
			moved++
		}
	}
	if moved == 0 {
		t.Error("crc32 and murmur2 put every user in the same partition: the check shows nothing")
	}
}
