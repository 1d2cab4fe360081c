package schemas

import (
	"bytes"
	_ "embed"
)

// The JSON Schemas, as embedded; LoginEventSchema and DecisionSchema give
// copies.
var (
	//go:embed login_event.schema.json
	loginEventSchema []byte
	//go:embed decision.schema.json
	decisionSchema []byte
)

// LoginEventSchema returns the JSON Schema of LoginEvent
// (login_event.schema.json).
func LoginEventSchema() []byte { return bytes.Clone(loginEventSchema) }

// DecisionSchema returns the JSON Schema of Decision (decision.schema.json).
func DecisionSchema() []byte { return bytes.Clone(decisionSchema) }
