//go:build race

package features

// raceEnabled is true under the race detector, which makes sync.Pool (and
// so ristretto's access buffers) allocate at random.
const raceEnabled = true
