package httpapi

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// uplotVersion is the vendored chart library's version, pinned in
// ui/vendor/uplot/README.md and in the file's own header.
const uplotVersion = "1.6.32"

// TestVendoredFilesMatchTheirHashes fails when a vendored file differs
// from the SHA-256 recorded in its folder's SHA256SUMS, is missing, or is
// not listed there, and when the library is not the pinned version.
func TestVendoredFilesMatchTheirHashes(t *testing.T) {
	dir := filepath.Join("ui", "vendor", "uplot")
	sums, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		listed[name] = true
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s is listed but unreadable: %v", name, err)
			continue
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s has SHA-256 %s, SHA256SUMS records %s", name, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != "SHA256SUMS" && n != "README.md" && !listed[n] {
			t.Errorf("%s is vendored but has no hash in SHA256SUMS", n)
		}
	}
	lib, err := os.ReadFile(filepath.Join(dir, "uPlot.esm.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lib[:min(len(lib), 512)]), "(v"+uplotVersion+")") {
		t.Errorf("uPlot.esm.js is not version %s", uplotVersion)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil || !strings.Contains(string(readme), "uplot@"+uplotVersion) {
		t.Errorf("README.md does not pin uplot@%s (%v)", uplotVersion, err)
	}
}

// TestConsoleSecurityHeaders checks the console's files carry the strict
// headers docs/console.md promises, and that nothing outside ui/ is served.
func TestConsoleSecurityHeaders(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name, path, contentType string
		code                    int
	}{
		{name: "page", path: "/ui/", contentType: "text/html; charset=utf-8", code: 200},
		{name: "page by name", path: "/ui/index.html", contentType: "text/html; charset=utf-8", code: 200},
		{name: "module", path: "/ui/js/app.js", contentType: "text/javascript; charset=utf-8", code: 200},
		{name: "vendored module", path: "/ui/vendor/uplot/uPlot.esm.js", contentType: "text/javascript; charset=utf-8", code: 200},
		{name: "style", path: "/ui/console.css", contentType: "text/css; charset=utf-8", code: 200},
		{name: "missing", path: "/ui/js/nothing.js", contentType: "application/json", code: 404},
		{name: "not a web file", path: "/ui/vendor/uplot/SHA256SUMS", contentType: "application/json", code: 404},
		{name: "escape", path: "/ui/..%2fhttpapi.go", contentType: "application/json", code: 404},
		{name: "escape to a web file", path: "/ui/js/..%2f..%2f..%2f..%2fdocs%2fconsole.md.html", contentType: "application/json", code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(request{method: "GET", path: tc.path})
			if resp.code != tc.code || resp.header.Get("Content-Type") != tc.contentType {
				t.Fatalf("GET %s: %d %s, want %d %s", tc.path, resp.code, resp.header.Get("Content-Type"), tc.code, tc.contentType)
			}
			h := resp.header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
			}
			if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers %v: want X-Frame-Options DENY, X-Content-Type-Options nosniff, Referrer-Policy no-referrer", h)
			}
		})
	}
	if resp := f.do(request{method: "HEAD", path: "/ui/"}); resp.code != http.StatusOK || len(resp.body) != 0 {
		t.Errorf("HEAD /ui/: %d with %d bytes", resp.code, len(resp.body))
	}
}

// TestConsoleHasNoInlineCode keeps the page within its CSP and its data
// out of HTML parsing: no inline script or style in the page, no event
// handler attribute, and no script that writes HTML.
func TestConsoleHasNoInlineCode(t *testing.T) {
	page, err := fs.ReadFile(ui, "ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAll(page, -1) {
		if !strings.Contains(string(tag), " src=") {
			t.Errorf("index.html has an inline script: %s", tag)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script[^>]*>[^<]`), // a script element with a body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
	} {
		if m := bad.Find(page); m != nil {
			t.Errorf("index.html has inline code: %q", m)
		}
	}
	err = fs.WalkDir(ui, "ui/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(ui, p)
		if err != nil {
			return err
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "document.cookie"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %s", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
