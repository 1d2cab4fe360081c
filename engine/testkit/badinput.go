package testkit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BadInputCase is one message of the bad-input corpus in testdata/badinput
// (see its cases.json), ready to send.
type BadInputCase struct {
	File string `json:"file"`
	// Expect is "reject", "score" or "duplicate".
	Expect string `json:"expect"`
	// Field is the field a rejection must name ("" for the whole message)
	// and Error a substring of its reason.
	Field string `json:"field"`
	Error string `json:"error"`
	// HTTPStatus is the answer of POST /v1/score.
	HTTPStatus int `json:"http_status"`
	// Size, when set, is the generated length of the message.
	Size int `json:"size"`
	// Kafka is "refused" when the broker refuses the message.
	Kafka string `json:"kafka"`
	// Message is the file with its placeholders replaced.
	Message []byte `json:"-"`
}

// Name is the case's name for subtests: the file without its extension.
func (c BadInputCase) Name() string {
	return c.File[:len(c.File)-len(filepath.Ext(c.File))]
}

// BadInputDir is the folder of the bad-input corpus.
func BadInputDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "badinput")
}

// BadInput loads the bad-input corpus, with occurred_at placeholders set to
// a minute before now and oversize messages padded to their size.
func BadInput(t testing.TB, now time.Time) []BadInputCase {
	t.Helper()
	dir := BadInputDir()
	manifest, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Cases []BadInputCase `json:"cases"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("testdata/badinput/cases.json: %v", err)
	}
	listed := map[string]bool{"cases.json": true}
	for i := range m.Cases {
		c := &m.Cases[i]
		listed[c.File] = true
		data, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte("@NOW@"), []byte(now.Add(-time.Minute).UTC().Format(time.RFC3339Nano)))
		if c.Size > 0 {
			pad := c.Size - (len(data) - len("@PAD@"))
			if pad < 0 || !bytes.Contains(data, []byte("@PAD@")) {
				t.Fatalf("%s: cannot pad to %d bytes", c.File, c.Size)
			}
			data = bytes.Replace(data, []byte("@PAD@"), bytes.Repeat([]byte("x"), pad), 1)
		}
		c.Message = data
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Fatalf("testdata/badinput/%s is not in cases.json", e.Name())
		}
	}
	return m.Cases
}
