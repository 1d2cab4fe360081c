package eval

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// The files Generate writes in its folder.
const (
	EventsFile = "events.ndjson"
	LabelsFile = "labels.ndjson"
)

// Generate writes the labelled scenario traffic of cfg (loadgen.Labelled)
// into dir, as EventsFile and LabelsFile, and returns how many events it
// wrote.
func Generate(dir string, cfg loadgen.LabelledConfig) (int, error) {
	events, labels := loadgen.Labelled(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("generating scenarios: %w", err)
	}
	ef, err := os.Create(filepath.Join(dir, EventsFile))
	if err != nil {
		return 0, fmt.Errorf("generating scenarios: %w", err)
	}
	bw := bufio.NewWriter(ef)
	enc := json.NewEncoder(bw)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			ef.Close()
			return 0, fmt.Errorf("writing %s: %w", EventsFile, err)
		}
	}
	if err := errors.Join(bw.Flush(), ef.Close()); err != nil {
		return 0, fmt.Errorf("writing %s: %w", EventsFile, err)
	}
	lf, err := os.Create(filepath.Join(dir, LabelsFile))
	if err != nil {
		return 0, fmt.Errorf("generating scenarios: %w", err)
	}
	if err := errors.Join(WriteLabels(lf, labels), lf.Close()); err != nil {
		return 0, err
	}
	return len(events), nil
}
