package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Header values shared by every response; net/http only reads them, so one
// slice serves all (and setting them allocates nothing).
var (
	contentTypeJSON = []string{"application/json"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
	retryAfter      = []string{"1"}
)

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// chunkingSize is net/http's buffer before it chunks an answer (its
// bufferBeforeChunkingSize): an answer that fits gets its Content-Length
// from net/http without allocating, a longer one only if it is set.
const chunkingSize = 2048

// writeJSON answers code with an encoded JSON body, always with a
// Content-Length, never chunked.
func (s *Server) writeJSON(w http.ResponseWriter, code int, body []byte) int {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = noStore
	if len(body) > chunkingSize {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
	return code
}

// writeValue answers code with v encoded by encoding/json (for the answers
// that are not on the scoring hot path).
func (s *Server) writeValue(w http.ResponseWriter, code int, v any) int {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding an answer", "err", err)
		return s.writeError(w, http.StatusInternalServerError, "", "encoding the answer failed")
	}
	return s.writeJSON(w, code, body)
}

// writeError answers code with {"error": msg, "field": field}. Server
// errors are counted; the caller logs them with their context.
func (s *Server) writeError(w http.ResponseWriter, code int, field, msg string) int {
	if code >= 500 {
		s.metrics.ServerErrors.Add(1)
	}
	body, _ := json.Marshal(errorBody{Error: msg, Field: field}) // two strings cannot fail
	return s.writeJSON(w, code, body)
}

// getBuf takes a reusable buffer from the pool; putBuf returns it with
// whatever capacity it grew to, unless it grew unreasonably.
func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(b *[]byte, grown []byte) {
	if cap(grown) > 2*int(s.cfg.MaxBodyBytes) {
		return
	}
	*b = grown[:0]
	s.bufs.Put(b)
}
