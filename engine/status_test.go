package engine_test

import (
	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features"
)

// The status endpoints read their counters from the feature store.
var _ engine.CounterReader = (*features.Store)(nil)
