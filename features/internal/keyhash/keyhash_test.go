package keyhash

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestStringIsByteWise: String, which reads its last word with
// whole loads, gives the hash of the byte-at-a-time definition for every
// length up to 40, so state hashed before the change keeps its keys.
func TestStringIsByteWise(t *testing.T) {
	byteWise := func(s string) uint64 {
		const k = 0x9e3779b97f4a7c15
		h := uint64(len(s)) * k
		for len(s) >= 8 {
			w := uint64(0)
			for i := 7; i >= 0; i-- {
				w = w<<8 | uint64(s[i])
			}
			h = bits.RotateLeft64((h^w)*k, 31)
			s = s[8:]
		}
		if len(s) > 0 {
			w := uint64(0)
			for i := len(s) - 1; i >= 0; i-- {
				w = w<<8 | uint64(s[i])
			}
			h = bits.RotateLeft64((h^w)*k, 31)
		}
		return Mix64(h)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 41 {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			if got, want := String(string(b)), byteWise(string(b)); got != want {
				t.Fatalf("%q: %#x, want %#x", b, got, want)
			}
		}
	}
}
