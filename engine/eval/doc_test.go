package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// TestDetectionDocDescribesEveryKind keeps docs/detection.md's scenario
// table in step with loadgen.LabelledKinds.
func TestDetectionDocDescribesEveryKind(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "detection.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range loadgen.LabelledKinds() {
		attack := map[bool]string{true: "yes", false: "no"}[k.Attack]
		row := fmt.Sprintf("| `%s` | %s | %s |", k.Name, attack, k.Doc)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/detection.md lacks the row %q", row)
		}
		if !strings.Contains(string(doc), "| "+k.Name+" | engine |") {
			t.Errorf("docs/detection.md's table has no engine row for %s", k.Name)
		}
	}
}
