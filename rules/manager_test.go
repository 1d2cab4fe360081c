package rules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/loginrisk/loginrisk/engine/testkit/syncbuf"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile saves the way many editors do: write a temporary file, then
// rename it over the old one.
func replaceFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

const (
	goodRules   = "rules:\n  - {id: city, when: new_city, weight: 30}\n"
	goodRules2  = "rules:\n  - {id: city, when: new_city, weight: 35}\n"
	brokenRules = "rules:\n  - {id: city, when: new_cty, weight: 30}\n"
)

// loggedManager loads goodRules, written as file in a new folder, in a
// Manager whose log the returned buffer keeps.
func loggedManager(t *testing.T, file string) (dir string, m *Manager, logs *syncbuf.Buffer) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, dir, file, goodRules)
	logs = &syncbuf.Buffer{}
	m, err := NewManager(ManagerConfig{Dir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m, logs
}

func TestManagerReload(t *testing.T) {
	dir, m, logs := loggedManager(t, "a.yaml")
	first := m.Current()

	// Unchanged files keep the very same set.
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if m.Current() != first {
		t.Error("reload of unchanged files replaced the set")
	}

	// A change is swapped in.
	writeFile(t, dir, "a.yaml", goodRules2)
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	second := m.Current()
	if second.Version() == first.Version() {
		t.Fatal("version did not change")
	}
	if r, _ := second.Rule("city"); r.Weight != 35 {
		t.Errorf("weight %d, want 35", r.Weight)
	}

	// A broken folder keeps the previous set, and says why.
	writeFile(t, dir, "a.yaml", brokenRules)
	writeFile(t, dir, "b.yaml", "rules:\n  - {id: b, when: tor_exit, weight: 500}\n")
	err := m.Reload()
	if err == nil {
		t.Fatal("reload of a broken folder succeeded")
	}
	if m.Current() != second {
		t.Error("a failed reload replaced the set")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "a.yaml")+":2: rule city: when: unknown name new_cty") ||
		!strings.Contains(err.Error(), filepath.Join(dir, "b.yaml")+":2: rule b: weight: 500") {
		t.Errorf("error does not name both problems: %v", err)
	}
	met := m.Metrics()
	if met.ReloadsTotal != 4 || met.ReloadFailuresTotal != 1 || met.LastReloadSuccessful || met.Version != second.Version() || met.Rules != 1 {
		t.Errorf("metrics after failure %+v", met)
	}
	if m.LastError() == "" {
		t.Error("LastError is empty while the folder is broken")
	}
	if log := logs.String(); !strings.Contains(log, "rules reload failed") || !strings.Contains(log, "errors=2") {
		t.Errorf("log lacks the failure with its count:\n%s", log)
	}

	// Fixed again.
	writeFile(t, dir, "a.yaml", goodRules)
	writeFile(t, dir, "b.yaml", "rules: []\n")
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	met = m.Metrics()
	if !met.LastReloadSuccessful || met.ReloadFailuresTotal != 1 || m.LastError() != "" || met.LastSuccess.IsZero() {
		t.Errorf("metrics after recovery %+v", met)
	}
}

func TestNewManagerFailsWithoutASet(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", brokenRules)
	if _, err := NewManager(ManagerConfig{Dir: dir}); err == nil {
		t.Fatal("NewManager on a broken folder succeeded")
	}
	if _, err := NewManager(ManagerConfig{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("NewManager on a missing folder succeeded")
	}
}

func TestManagerDefault(t *testing.T) {
	m, err := NewManager(ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Default()
	if m.Current().Version() != def.Version() {
		t.Error("empty Dir is not the shipped set")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestManagerWatch(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yaml", goodRules)
	if err := os.Mkdir(filepath.Join(dir, "tests"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(ManagerConfig{Dir: dir, Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(ctx) }()

	// Readers never see a nil or half-built set while the watcher swaps.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
				if s := m.Current(); s == nil || len(s.IDs()) == 0 {
					t.Error("Current returned an empty set")
					return
				}
			}
		}
	}()

	first := m.Current().Version()
	// The watcher is set up asynchronously; keep saving until it reacts.
	waitFor(t, "the edit to be loaded", func() bool {
		replaceFile(t, dir, "a.yaml", goodRules2)
		time.Sleep(50 * time.Millisecond)
		return m.Current().Version() != first
	})
	second := m.Current()

	// A new file is picked up.
	writeFile(t, dir, "b.yml", "rules:\n  - {id: tor, when: tor_exit, weight: 20}\n")
	waitFor(t, "the new file", func() bool { _, ok := m.Current().Rule("tor"); return ok })
	third := m.Current()

	// A broken save is counted and the set kept.
	failures := m.Metrics().ReloadFailuresTotal
	replaceFile(t, dir, "a.yaml", brokenRules)
	waitFor(t, "the failed reload", func() bool { return m.Metrics().ReloadFailuresTotal > failures })
	if m.Current() != third {
		t.Error("a broken save replaced the set")
	}
	if second == third {
		t.Error("adding a file did not swap the set")
	}

	// The folder is removed and created again (a deploy that replaces it).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "c.yaml", "rules:\n  - {id: replaced, when: hosting, weight: 20}\n")
	waitFor(t, "the replaced folder", func() bool { _, ok := m.Current().Rule("replaced"); return ok })

	close(stop)
	readers.Wait()
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestManagerRelevantEvents(t *testing.T) {
	dir := filepath.Join("etc", "rules")
	m := &Manager{cfg: ManagerConfig{Dir: dir}}
	tests := []struct {
		name string
		ev   fsnotify.Event
		want bool
	}{
		{"rule file written", fsnotify.Event{Name: filepath.Join(dir, "a.yaml"), Op: fsnotify.Write}, true},
		{"yml file created", fsnotify.Event{Name: filepath.Join(dir, "b.yml"), Op: fsnotify.Create}, true},
		{"rule file renamed away", fsnotify.Event{Name: filepath.Join(dir, "a.yaml"), Op: fsnotify.Rename}, true},
		{"rule file removed", fsnotify.Event{Name: filepath.Join(dir, "a.yaml"), Op: fsnotify.Remove}, true},
		{"kubernetes ..data swap", fsnotify.Event{Name: filepath.Join(dir, "..data"), Op: fsnotify.Create}, true},
		{"folder itself removed", fsnotify.Event{Name: dir, Op: fsnotify.Remove}, true},
		{"chmod only", fsnotify.Event{Name: filepath.Join(dir, "a.yaml"), Op: fsnotify.Chmod}, false},
		{"editor temp file", fsnotify.Event{Name: filepath.Join(dir, ".a.yaml.swp"), Op: fsnotify.Write}, false},
		{"hidden yaml", fsnotify.Event{Name: filepath.Join(dir, ".a.yaml.tmp"), Op: fsnotify.Create}, false},
		{"emacs lock", fsnotify.Event{Name: filepath.Join(dir, "#a.yaml#"), Op: fsnotify.Create}, false},
		{"other file", fsnotify.Event{Name: filepath.Join(dir, "notes.txt"), Op: fsnotify.Write}, false},
		{"tests folder", fsnotify.Event{Name: filepath.Join(dir, "tests"), Op: fsnotify.Create}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.relevant(tt.ev); got != tt.want {
				t.Errorf("relevant(%v) = %v, want %v", tt.ev, got, tt.want)
			}
		})
	}
}
