package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// feedbackBody is the body of POST /v1/decisions/{event_id}/feedback.
type feedbackBody struct {
	Label *string `json:"label"`
	Note  *string `json:"note"`
}

// feedbackAnswer is its answer: the stored label and what it did.
type feedbackAnswer struct {
	EventID string                `json:"event_id"`
	Label   schemas.FeedbackLabel `json:"label"`
	Actor   string                `json:"actor"`
	Note    string                `json:"note,omitempty"`
	At      time.Time             `json:"at"`
	// Decision is the labelled decision.
	Decision *schemas.Decision `json:"decision"`
	// Lifted is the record of the lock a false_positive lifted.
	Lifted *schemas.Decision `json:"lifted,omitempty"`
	// Record is the feedback record published to every instance.
	Record *schemas.Decision `json:"record,omitempty"`
}

// feedbackTimeout bounds storing a label and publishing its records,
// which outlives a client that hangs up (as a lift does).
const feedbackTimeout = liftTimeout

// handleFeedback is POST /v1/decisions/{event_id}/feedback.
func (s *Server) handleFeedback(w http.ResponseWriter, r *http.Request, caller *credential) int {
	id := r.PathValue("event_id")
	if msg := checkParam(id, schemas.MaxEventIDLen); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "event_id", "event_id: "+msg)
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return s.writeError(w, http.StatusUnsupportedMediaType, "", fmt.Sprintf("Content-Type %q is not application/json", ct))
	}
	buf, body, code, ok := s.requestBody(w, r)
	if !ok {
		return code
	}
	defer s.putBuf(buf, body)
	var in feedbackBody
	if err := json.Unmarshal(body, &in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return s.writeError(w, http.StatusBadRequest, typeErr.Field, typeErr.Field+": must be a string")
		}
		return s.writeError(w, http.StatusBadRequest, "", "the body must be a JSON object with label and an optional note: "+err.Error())
	}
	labels := strings.Join(schemas.FeedbackLabels(), ", ")
	if in.Label == nil {
		return s.writeError(w, http.StatusBadRequest, "label", "label: is required (one of "+labels+")")
	}
	fb := schemas.Feedback{EventID: id, At: s.now().UTC(), Label: schemas.FeedbackLabel(*in.Label), Actor: caller.name}
	if !fb.Label.Valid() {
		return s.writeError(w, http.StatusBadRequest, "label", fmt.Sprintf("label: %q is not one of %s", clip(*in.Label), labels))
	}
	if in.Note != nil {
		fb.Note = *in.Note
		if msg := checkParam(fb.Note, schemas.MaxFeedbackNoteLen); msg != "" {
			return s.writeError(w, http.StatusBadRequest, "note", "note: "+msg)
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), feedbackTimeout)
	defer cancel()
	out, err := s.eng.Feedback(ctx, fb)
	switch {
	case errors.Is(err, engine.ErrNoSuchDecision):
		return s.writeError(w, http.StatusNotFound, "event_id", fmt.Sprintf("no decision for event_id %q in recent memory; only a remembered decision can be labelled", clip(id)))
	case errors.Is(err, engine.ErrNoFeedbackStore):
		return s.writeError(w, http.StatusNotImplemented, "", err.Error())
	case err != nil:
		s.log.Error("feedback failed: the label could not be recorded", "event_id", id, "label", string(fb.Label), "actor", caller.name, "err", err)
		w.Header()["Retry-After"] = retryAfter
		return s.writeError(w, http.StatusServiceUnavailable, "", "the label could not be recorded in full; retry later (a label given twice counts once, the latest): "+err.Error())
	}
	s.log.Info("decision labelled", "event_id", id, "label", string(fb.Label), "actor", caller.name, "lifted", out.Lifted != nil, "record", out.Record != nil)
	answer, err := json.Marshal(feedbackAnswer{EventID: id, Label: fb.Label, Actor: fb.Actor, Note: fb.Note, At: fb.At,
		Decision: out.Decision, Lifted: out.Lifted, Record: out.Record})
	if err != nil {
		return s.writeError(w, http.StatusInternalServerError, "", "encoding the answer failed")
	}
	return s.writeJSON(w, http.StatusOK, answer)
}
