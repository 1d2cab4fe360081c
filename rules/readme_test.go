package rules

import (
	"os"
	"strings"
	"testing"
)

// TestREADME keeps README.md in step with the code: every helper, allowed
// builtin and shipped rule is documented.
func TestREADME(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	set := shippedSet(t)
	var want []string
	for _, h := range helpers {
		want = append(want, "`"+h.name+"(")
	}
	for _, b := range allowedBuiltins {
		want = append(want, "`"+b+"`")
	}
	for _, r := range set.Rules() {
		want = append(want, "| `"+r.ID+"` |")
	}
	for _, w := range want {
		if !strings.Contains(readme, w) {
			t.Errorf("README.md does not mention %s", w)
		}
	}
}
