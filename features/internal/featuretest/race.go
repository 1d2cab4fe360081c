//go:build race

package featuretest

// RaceEnabled is true under the race detector, which makes sync.Pool (and
// so ristretto's access buffers) allocate at random.
const RaceEnabled = true
