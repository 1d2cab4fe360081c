package rules

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secret is what a file outside the rules is assumed to hold; no error or
// log line may show it.
const secret = "hunter2-s3cret-do-not-print"

// TestLoadRejectsIrregularFiles is the rules-folder attack of issue 16: a
// symbolic link to a secret file put its content in the reload error, one
// to /dev/zero exhausted memory, and a FIFO hung `rules check`. Only
// regular files, and links to them inside the folder (Kubernetes
// ConfigMaps), are read, each up to 1 MiB.
func TestLoadRejectsIrregularFiles(t *testing.T) {
	outside := t.TempDir()
	secretFile := filepath.Join(outside, "secret.yaml")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		make     func(t *testing.T, dir string) // makes dir/bad.yaml
		wantErr  error
		wantText string // also in the error
	}{
		{name: "symlink to a secret file outside", wantErr: ErrNotRegularFile, wantText: "symbolic link",
			make: func(t *testing.T, dir string) { symlink(t, secretFile, filepath.Join(dir, "bad.yaml")) }},
		{name: "symlink to /dev/zero", wantErr: ErrNotRegularFile, wantText: "symbolic link",
			make: func(t *testing.T, dir string) { symlink(t, "/dev/zero", filepath.Join(dir, "bad.yaml")) }},
		{name: "fifo", wantErr: ErrNotRegularFile, wantText: "a FIFO",
			make: func(t *testing.T, dir string) {
				if err := mkfifo(filepath.Join(dir, "bad.yaml")); err != nil {
					t.Skipf("no FIFOs here: %v", err)
				}
			}},
		{name: "symlink to a fifo inside", wantErr: ErrNotRegularFile, wantText: "a symbolic link to a FIFO",
			make: func(t *testing.T, dir string) {
				if err := mkfifo(filepath.Join(dir, "pipe")); err != nil {
					t.Skipf("no FIFOs here: %v", err)
				}
				symlink(t, "pipe", filepath.Join(dir, "bad.yaml"))
			}},
		{name: "oversize file", wantErr: ErrFileTooLarge, wantText: "1 MiB",
			make: func(t *testing.T, dir string) {
				big := "rules: []\n" + strings.Repeat("# "+secret+"\n", maxFileBytes/len(secret))
				if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(big), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "auth.yaml", goodRules)
			tc.make(t, dir)
			err := loadWithin(t, dir)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Load: %v, want %v", err, tc.wantErr)
			}
			for _, want := range []string{"bad.yaml", tc.wantText} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes the file: %q", err)
			}
			// The test cases of a folder are read the same way.
			tests := filepath.Join(dir, "tests")
			if err := os.Rename(filepath.Join(dir, "bad.yaml"), filepath.Join(t.TempDir(), "moved")); err == nil {
				if err := os.Mkdir(tests, 0o700); err != nil {
					t.Fatal(err)
				}
				tc.make(t, tests)
				if _, err := LoadTests(dir); !errors.Is(err, tc.wantErr) {
					t.Errorf("LoadTests: %v, want %v", err, tc.wantErr)
				}
			}
		})
	}
}

// loadWithin is Load that fails the test instead of hanging when Load
// blocks (a FIFO opened for reading waits for a writer forever).
func loadWithin(t *testing.T, dir string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(dir)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Load is still blocked after a minute")
		return nil
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
}

// TestLoadFollowsLinksInsideTheFolder: a Kubernetes ConfigMap mounts each
// file as a link into a "..data" link to a timestamped folder, all inside
// the rules folder; such a set loads.
func TestLoadFollowsLinksInsideTheFolder(t *testing.T) {
	dir := t.TempDir()
	version := filepath.Join(dir, "..2026_12_04_18_00_00.1")
	if err := os.Mkdir(version, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, version, "auth.yaml", goodRules)
	symlink(t, filepath.Base(version), filepath.Join(dir, "..data"))
	symlink(t, filepath.Join("..data", "auth.yaml"), filepath.Join(dir, "auth.yaml"))
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids := set.IDs(); len(ids) != 1 || ids[0] != "city" {
		t.Errorf("rules %v, want [city]", ids)
	}
}

// TestErrorsQuoteNoContent: a regular file that is not a rule file (a
// hard link to a secret, a misplaced config) is refused without any of its
// text in the error, the reload log, or LastError (which /readyz and the
// reload answer show).
func TestErrorsQuoteNoContent(t *testing.T) {
	cases := []struct{ name, content string }{
		{"a bare secret", secret + "\n"},
		{"a secret in a mapping", "db_password: " + secret + "\napi_key: " + secret + "\n"},
		{"a secret as a key", secret + ": 1\n"},
		{"a list", "- " + secret + "\n"},
		{"a list of mappings", "- password: " + secret + "\n"},
		{"a syntax error", "password: " + secret + "\n  - " + secret + ": [\n"},
		{"an unknown anchor", "password: *" + secret + "\n"},
		{"a tab", "password:\n\t" + secret + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, m, log := loggedManager(t, "auth.yaml")
			writeFile(t, dir, "secret.yaml", tc.content)
			err := m.Reload()
			if err == nil {
				t.Fatal("reload of a folder with a non-rule file succeeded")
			}
			for what, text := range map[string]string{"error": err.Error(), "log": log.String(), "LastError": m.LastError()} {
				if !strings.Contains(text, "secret.yaml") {
					t.Errorf("%s does not name the file: %q", what, text)
				}
				if strings.Contains(text, secret) || strings.Contains(text, "hunter2") {
					t.Errorf("%s quotes the file: %q", what, text)
				}
			}
			// Nor does a test file.
			if err := os.Remove(filepath.Join(dir, "secret.yaml")); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "tests"), 0o700); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "tests"), "secret.yaml", tc.content)
			if _, err := LoadTests(dir); err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("LoadTests: %v, want an error without the content", err)
			}
		})
	}
}

// TestTypeName: a character device (whose mode has the device bit too)
// is named as one, not as "a device"; the FIFO and the symbolic link are
// named by TestLoadRejectsIrregularFiles on real files.
func TestTypeName(t *testing.T) {
	for mode, want := range map[fs.FileMode]string{
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a device",
		fs.ModeDir:                        "a folder",
	} {
		if got := typeName(mode | 0o644); got != want {
			t.Errorf("typeName(%v) = %q, want %q", mode, got, want)
		}
	}
}
