package eval

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// shippedLane is an engine with the shipped rules and the repository's
// test GeoIP databases, as `loginrisk eval` runs by default.
func shippedLane(t *testing.T) offline.Lane {
	t.Helper()
	eng, store := testkit.Engine(t, "", engine.Config{Enricher: testkit.Enricher(t)})
	return offline.Lane{Engine: eng, State: store}
}

// labelsOf is the generator's labels by event id, as ReadLabels reads
// them from a labels file.
func labelsOf(list []loadgen.Label) Labels {
	labels := make(Labels, len(list))
	for _, l := range list {
		labels[l.EventID] = l
	}
	return labels
}

// ndjson is events as an events file holds them, one JSON object a line.
func ndjson(t *testing.T, events []schemas.LoginEvent) *bytes.Buffer {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	return &in
}
