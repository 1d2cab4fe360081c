package schemas

import _ "embed"

// LoginEventSchema is the JSON Schema of LoginEvent (login_event.schema.json).
//
//go:embed login_event.schema.json
var LoginEventSchema []byte

// DecisionSchema is the JSON Schema of Decision (decision.schema.json).
//
//go:embed decision.schema.json
var DecisionSchema []byte
