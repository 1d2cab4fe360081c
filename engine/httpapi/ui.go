package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// ui holds the console's web page: hand-written ES modules and styles,
// and the vendored chart library with its licence (ui/vendor). Everything
// is in the binary; the page fetches nothing from outside.
//
//go:embed ui
var ui embed.FS

// consoleCSP is the console's Content-Security-Policy: scripts, styles
// and data from this origin only (no inline script or style element or
// attribute), no plugins, no framing, forms and base URLs disabled.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// uiTypes are the Content-Types of the console's files by extension;
// anything else is not served.
var uiTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// Header values of the console's answers.
var (
	uiCSP            = []string{consoleCSP}
	uiFrameOptions   = []string{"DENY"}
	uiReferrerPolicy = []string{"no-referrer"}
	uiNoCache        = []string{"no-cache"}
)

// setUIHeaders sets the console's security headers.
func setUIHeaders(h http.Header) {
	h["Content-Security-Policy"] = uiCSP
	h["X-Content-Type-Options"] = noSniff
	h["X-Frame-Options"] = uiFrameOptions
	h["Referrer-Policy"] = uiReferrerPolicy
	h["Cache-Control"] = uiNoCache
}

// handleUI is GET /ui/{path}: the console's files; the folder itself is
// index.html. The files are public (they hold no data): the page asks for
// a token and sends it only to the API.
func (s *Server) handleUI(w http.ResponseWriter, r *http.Request, _ *credential) int {
	name := r.PathValue("path")
	if name == "" {
		name = "index.html"
	}
	ctype, known := uiTypes[path.Ext(name)]
	clean := path.Clean("ui/" + name)
	var data []byte
	var err error
	if known && strings.HasPrefix(clean, "ui/") && fs.ValidPath(clean) {
		data, err = fs.ReadFile(ui, clean)
	}
	if !known || err != nil || data == nil {
		setUIHeaders(w.Header())
		return s.writeError(w, http.StatusNotFound, "path", "no console file "+clip(name))
	}
	h := w.Header()
	setUIHeaders(h)
	h.Set("Content-Type", ctype)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return http.StatusOK
}
