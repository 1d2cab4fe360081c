//go:build race

package engine_test

// raceEnabled is true under the race detector, which makes sync.Pool (the
// engine's scratch space, ristretto's access buffers) allocate at random:
// allocation tests skip.
const raceEnabled = true
