//go:build !race

package featuretest

// RaceEnabled is false: the race detector is off.
const RaceEnabled = false
