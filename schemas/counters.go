package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Counter is one window counter of a status lookup: its name, as the
// rules name the feature (user_failures_15m), and its value.
type Counter struct {
	Name  string
	Value float64
}

// Counters are the window counters of a status lookup, sorted by name.
// In JSON they are an object of name to number, written as encoding/json
// writes a map[string]float64 (keys in order); a slice rather than a map
// so that a lookup builds them in one allocation, already in order.
type Counters []Counter

// Get returns the value of the counter name, and 0 when there is none.
func (c Counters) Get(name string) float64 {
	for _, x := range c {
		if x.Name == name {
			return x.Value
		}
	}
	return 0
}

// ErrNotJSONNumber is returned for a NaN or infinite counter, which JSON
// cannot hold (encoding/json refuses them too).
var ErrNotJSONNumber = errors.New("NaN or infinity is not a JSON number")

// AppendCounters appends c as a JSON object in c's order, or null when c
// is nil.
func AppendCounters(b []byte, c Counters) ([]byte, error) {
	if c == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	for i := range c {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c[i].Name)
		b = append(b, ':')
		var err error
		if b, err = appendJSONNumber(b, c[i].Value); err != nil {
			return b, fmt.Errorf("counter %s: %w", c[i].Name, err)
		}
	}
	return append(b, '}'), nil
}

// MarshalJSON writes the counters as AppendCounters does.
func (c Counters) MarshalJSON() ([]byte, error) { return AppendCounters(nil, c) }

// UnmarshalJSON reads an object of name to number, sorted by name.
func (c *Counters) UnmarshalJSON(data []byte) error {
	var m map[string]float64
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	if m == nil {
		*c = nil
		return nil
	}
	out := make(Counters, 0, len(m))
	for name, v := range m {
		out = append(out, Counter{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) })
	*c = out
	return nil
}

// appendJSONNumber appends f as encoding/json writes a float64: decimal
// between 1e-6 and 1e21, an exponent (without a leading zero) outside.
// Counters are mostly whole numbers, which take strconv.AppendInt instead
// of the shortest float formatting.
func appendJSONNumber(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, ErrNotJSONNumber
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10), nil // exact: every such integer fits
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // 1e-07 -> 1e-7, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
