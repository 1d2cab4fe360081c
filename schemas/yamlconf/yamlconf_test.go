package yamlconf

import (
	"strings"
	"testing"
)

type section struct {
	Size int    `yaml:"size"`
	Name string `yaml:"name"`
}

// TestDecode: a given key overrides its default, a missing one keeps it,
// an empty document changes nothing, and an unknown key is an error that
// names it.
func TestDecode(t *testing.T) {
	def := section{Size: 5, Name: "default"}
	got, err := DecodeString(def, "size: 7\n")
	if err != nil || got != (section{Size: 7, Name: "default"}) {
		t.Errorf("size: 7 over %+v = %+v, %v; want size 7, name kept", def, got, err)
	}
	if got, err := DecodeString(def, ""); err != nil || got != def {
		t.Errorf("empty document = %+v, %v; want the defaults unchanged", got, err)
	}
	_, err = DecodeString(def, "sise: 7\n")
	if err == nil || !strings.Contains(err.Error(), "sise") {
		t.Errorf("unknown key: err = %v, want an error naming sise", err)
	}
}
