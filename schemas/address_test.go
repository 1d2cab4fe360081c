package schemas

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestAddressBatchRoundTrip: a batch decodes to the attempts encoded,
// IPv4 and IPv6 alike.
func TestAddressBatchRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 7, 0, time.UTC)
	want := []AddressAttempt{
		{At: at, Failure: true, UnknownUser: true, UserHash: 1<<63 | 42, Addr: netip.MustParseAddr("203.0.113.9"), ASN: 64701},
		{At: at.Add(time.Second), KnownDevice: true, UserHash: 7, Addr: netip.MustParseAddr("2001:db8::1")},
		{At: at, Failure: true, UserHash: 9, Addr: netip.MustParseAddr("::ffff:198.51.100.1")},
	}
	b := AppendAddressBatch(nil, want)
	if len(b) != 1+len(want)*AddressAttemptBytes {
		t.Fatalf("batch of %d bytes, want %d", len(b), 1+len(want)*AddressAttemptBytes)
	}
	var got []AddressAttempt
	n, err := DecodeAddressAttempts(b, func(a *AddressAttempt) { got = append(got, *a) })
	if err != nil || n != len(want) {
		t.Fatalf("decoded %d, err %v", n, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// TestAddressBatchRefused: a malformed batch is refused whole, before
// any attempt of it is handed on.
func TestAddressBatchRefused(t *testing.T) {
	good := AppendAddressBatch(nil, []AddressAttempt{
		{At: time.Unix(1e9, 0), Failure: true, Addr: netip.MustParseAddr("203.0.113.9")},
		{At: time.Unix(1e9, 0), Addr: netip.MustParseAddr("203.0.113.10")},
	})
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name  string
		batch []byte
	}{
		{"empty", nil},
		{"json", []byte(`{"event_id":"x"}`)},
		{"version 2", mutate(func(b []byte) []byte { b[0] = 2; return b })},
		{"cut", good[:len(good)-1]},
		{"unknown flag", mutate(func(b []byte) []byte { b[1+AddressAttemptBytes+8] |= 0x80; return b })},
		{"unknown user on a success", mutate(func(b []byte) []byte { b[1+AddressAttemptBytes+8] |= addressFlagUnknownUser; return b })},
		{"known device on a failure", mutate(func(b []byte) []byte { b[1+8] |= addressFlagKnownDevice; return b })},
		{"IPv4 mark on IPv6", mutate(func(b []byte) []byte { b[1+AddressAttemptBytes+17] = 0x20; return b })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, err := DecodeAddressAttempts(tc.batch, func(*AddressAttempt) { calls++ })
			if !errors.Is(err, ErrBadAddressBatch) {
				t.Fatalf("err %v, want ErrBadAddressBatch", err)
			}
			if calls != 0 {
				t.Fatalf("%d attempts handed on from a refused batch", calls)
			}
		})
	}
	if n, err := DecodeAddressAttempts(good, func(*AddressAttempt) {}); err != nil || n != 2 {
		t.Fatalf("the unmutated batch: %d, %v", n, err)
	}
}
