package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
)

// Counters are numbers as encoding/json writes them, whatever their size:
// integers without an exponent up to 1e21, fractions in decimal between
// 1e-6 and 1e21, an exponent outside; a value JSON cannot hold is an error.
func TestAppendStatusCountersMatchEncodingJSON(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -3, 42, 999_999, 1_000_000, 123_456_789, 1e15, 1e15 + 1,
		9.3e18, 2.5e20, 1e21, 1.5e22, 0.1, 0.25, 1.0 / 3, 1e-6, 1e-7, -2.5e-9, 12345.678} {
		st := engine.Status{Counters: map[string]float64{"n": v}}
		got, err := appendStatus(nil, &st)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("counter %v: appendStatus %s, encoding/json %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := appendStatus(nil, &engine.Status{Counters: map[string]float64{"n": v}}); err == nil {
			t.Errorf("counter %v: no error, but JSON has no such number", v)
		}
	}
}
