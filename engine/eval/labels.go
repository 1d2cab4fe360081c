// Package eval measures how well the engine tells attacks from genuine
// logins: it scores labelled events through the offline (replay) path and
// a fail2ban-style baseline side by side, and reports per attack kind how
// many campaigns were detected and how fast, and per genuine kind how
// often its users were challenged or locked out.
package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// ErrBadLabels is wrapped by the error for a labels file that cannot be
// used; the message names the line and the field.
var ErrBadLabels = errors.New("bad labels")

// Labels maps an event_id to its label.
type Labels map[string]loadgen.Label

// maxLabelLine bounds one line of a labels file.
const maxLabelLine = 64 << 10

// ReadLabels reads NDJSON labels: one object per line with event_id
// (string, required, unique), kind (string, required), campaign (string,
// optional) and attack (boolean, required). Other fields are ignored;
// blank lines are skipped.
func ReadLabels(r io.Reader) (Labels, error) {
	out := Labels{}
	attackKind := map[string]bool{} // kind -> attack, as first labelled
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLabelLine)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		l, err := parseLabel(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadLabels, lineNo, err)
		}
		if prev, dup := out[l.EventID]; dup {
			return nil, fmt.Errorf("%w: line %d: event_id: %q is labelled twice (kind %s and %s)", ErrBadLabels, lineNo, l.EventID, prev.Kind, l.Kind)
		}
		if was, seen := attackKind[l.Kind]; seen && was != l.Attack {
			return nil, fmt.Errorf("%w: line %d: attack: kind %q is labelled attack %v here and %v before; a kind is all attacks or all genuine", ErrBadLabels, lineNo, l.Kind, l.Attack, was)
		}
		attackKind[l.Kind] = l.Attack
		out[l.EventID] = l
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrBadLabels, maxLabelLine)
		}
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	return out, nil
}

// parseLabel decodes one line, naming the field that is wrong.
func parseLabel(line []byte) (loadgen.Label, error) {
	var l loadgen.Label
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return l, fmt.Errorf("not a JSON object: %v", err)
	}
	str := func(name string, required bool, dst *string) error {
		raw, ok := fields[name]
		if !ok {
			if required {
				return fmt.Errorf("%s: missing", name)
			}
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%s: %s is not a string", name, raw)
		}
		if required && *dst == "" {
			return fmt.Errorf("%s: empty", name)
		}
		return nil
	}
	if err := str("event_id", true, &l.EventID); err != nil {
		return l, err
	}
	if err := str("kind", true, &l.Kind); err != nil {
		return l, err
	}
	if err := str("campaign", false, &l.Campaign); err != nil {
		return l, err
	}
	raw, ok := fields["attack"]
	if !ok {
		return l, errors.New("attack: missing (true for an attack attempt, false for a genuine one)")
	}
	if err := json.Unmarshal(raw, &l.Attack); err != nil || string(raw) == "null" {
		return l, fmt.Errorf("attack: %s is not true or false", raw)
	}
	return l, nil
}

// WriteLabels writes labels as NDJSON, one per line, in order.
func WriteLabels(w io.Writer, labels []loadgen.Label) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range labels {
		if err := enc.Encode(&labels[i]); err != nil {
			return fmt.Errorf("writing labels: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing labels: %w", err)
	}
	return nil
}
