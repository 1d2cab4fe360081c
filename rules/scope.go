package rules

import (
	"github.com/expr-lang/expr/ast"
	"github.com/loginrisk/loginrisk/schemas"
)

// deviceIDFeature is the feature a device-scoped rule must require: the
// gateway sent a device_id. Without one the device key is a hash of the
// user agent's browser, version, OS and device type, which millions of
// strangers share, so a lock on it would refuse all of them.
const deviceIDFeature = "has_device_id"

// requires reports whether the expression can only be true when the
// boolean feature name is: it is the feature itself, or a conjunction
// (&&, and) one of whose operands requires it. Anything else (||, !, a
// comparison, a ternary) does not count, even when it would logically.
func requires(n ast.Node, name string) bool {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value == name
	case *ast.BinaryNode:
		if n.Operator == "&&" || n.Operator == "and" {
			return requires(n.Left, name) || requires(n.Right, name)
		}
	}
	return false
}

// checkDeviceScope reports the problem of a rule that locks devices
// without requiring a client device_id, or "" when there is none.
func checkDeviceScope(scope schemas.LockScope, c *compiled) string {
	if scope != schemas.ScopeDevice || c == nil || requires(c.program.Node(), deviceIDFeature) {
		return ""
	}
	return "scope device needs a when that requires " + deviceIDFeature + " (when: " + deviceIDFeature +
		" && ...): without a device_id the device key comes from the user agent, which strangers share"
}
