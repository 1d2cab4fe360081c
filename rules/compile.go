package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/loginrisk/loginrisk/schemas"
)

// Limits on one `when` expression. A rule is a short predicate; these stop a
// generated or pasted monster from slowing every login.
const (
	maxWhenBytes = 4 << 10
	maxWhenNodes = 512
	// maxRangeValues bounds a range that is built at run time: expr folds
	// `x in a..b` into two comparisons only for an integer x; for a float
	// it makes the list a..b on every evaluation (8 MB and 20 ms for a
	// million values; past expr's memory budget the rule always fails).
	maxRangeValues = 64
)

// allowedBuiltins are the expr builtins rules may call; every other builtin
// is disabled. None of them loops: they work on one string or a fixed list
// of numbers. lower and upper allocate when the string changes case.
var allowedBuiltins = []string{"len", "abs", "min", "max", "lower", "upper", "hasPrefix", "hasSuffix"}

// helper is a function loginrisk adds to the rule language. The table below
// is the only place helpers are defined: expr gets its type and its
// interpreted form from here, the sandbox its argument check, and lowering
// its compiled form.
type helper struct {
	name string
	// doc is the signature and one sentence, for README.md and errors.
	doc string
	// typ is the Go function type expr checks calls against.
	typ any
	// call is the implementation expr's VM uses.
	call func(args ...any) (any, error)
	// check validates a call's arguments at load (constants must be valid).
	check func(args []ast.Node) error
	// lower builds the closure the hot path runs; args are lowered and
	// type-checked already.
	lower func(args []lowered) (lowered, error)
}

var helpers = []helper{
	{
		name:  "in_cidr",
		doc:   `in_cidr(ip, "10.0.0.0/8") bool: the address is in the CIDR (or equals the single address); the CIDR must be a string literal, parsed once at load`,
		typ:   new(func(string, string) bool),
		call:  func(args ...any) (any, error) { return inCIDR(args[0].(string), args[1].(string)), nil },
		check: checkInCIDR,
		lower: func(args []lowered) (lowered, error) {
			prefix, err := parsePrefix(args[1].konst.(string))
			if err != nil {
				return lowered{}, err
			}
			ip := args[0].s
			return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool {
				addr, err := netip.ParseAddr(ip(f))
				return err == nil && prefix.Contains(addr.Unmap())
			}}, nil
		},
	},
	{
		name: "equal_fold",
		doc:  `equal_fold(a, b) bool: a and b are equal ignoring case (Unicode folding), without allocating as lower(a) == lower(b) may`,
		typ:  new(func(string, string) bool),
		call: func(args ...any) (any, error) { return strings.EqualFold(args[0].(string), args[1].(string)), nil },
		lower: func(args []lowered) (lowered, error) {
			a, b := args[0].s, args[1].s
			return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return strings.EqualFold(a(f), b(f)) }}, nil
		},
	},
}

func lookupHelper(name string) (*helper, bool) {
	for i := range helpers {
		if helpers[i].name == name {
			return &helpers[i], true
		}
	}
	return nil, false
}

// parsePrefix accepts a CIDR or a single address (as a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func inCIDR(ip, cidr string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	p, err := parsePrefix(cidr)
	return err == nil && p.Contains(addr.Unmap())
}

func checkInCIDR(args []ast.Node) error {
	if len(args) != 2 {
		return nil // expr reports the arity
	}
	s, ok := args[1].(*ast.StringNode)
	if !ok {
		return errors.New(`in_cidr: the CIDR must be a string literal, e.g. in_cidr(ip, "10.0.0.0/8")`)
	}
	if _, err := parsePrefix(s.Value); err != nil {
		return fmt.Errorf("in_cidr: %q is not a CIDR or address", s.Value)
	}
	return nil
}

// exprOptions configures expr for rules: the typed environment, a boolean
// result, only the allowed builtins, the helpers and the node budget.
func exprOptions() []expr.Option {
	opts := []expr.Option{
		expr.Env(schemas.Features{}),
		expr.AsBool(),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(maxWhenNodes),
	}
	for _, name := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	for _, h := range helpers {
		opts = append(opts, expr.Function(h.name, h.call, h.typ))
	}
	return opts
}

// compiled is a compiled `when`.
type compiled struct {
	program  *vm.Program
	fast     boolFn // nil when the expression could not be lowered
	lowerErr error
}

// exprError is a problem in an expression at a line and column of its
// source (1-based).
type exprError struct {
	line, column int
	msg          string
}

func (e *exprError) Error() string { return fmt.Sprintf("%s (%d:%d)", e.msg, e.line, e.column) }

// compileWhen checks the sandbox rules, compiles the expression against
// schemas.Features and lowers it. Errors are *exprError.
func compileWhen(src string) (*compiled, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &exprError{1, 1, "empty expression"}
	}
	if len(src) > maxWhenBytes {
		return nil, &exprError{1, 1, fmt.Sprintf("expression is %d bytes, more than the %d allowed", len(src), maxWhenBytes)}
	}
	cfg := conf.CreateNew()
	for _, opt := range exprOptions() {
		opt(cfg)
	}
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		return nil, toExprError(err, src)
	}
	if err := sandbox(tree.Node); err != nil {
		return nil, toExprError(err, src)
	}
	program, err := expr.Compile(src, exprOptions()...)
	if err != nil {
		return nil, toExprError(err, src)
	}
	if err := checkRanges(program.Node()); err != nil {
		return nil, toExprError(err, src)
	}
	c := &compiled{program: program}
	c.fast, c.lowerErr = lowerRule(program.Node())
	return c, nil
}

func toExprError(err error, src string) *exprError {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line == 0 {
			fe = fe.Bind(file.NewSource(src))
		}
		return &exprError{line: max(fe.Line, 1), column: fe.Column + 1, msg: fe.Message}
	}
	return &exprError{1, 1, err.Error()}
}

// sandbox rejects what rules must not use, before type checking: the
// language of a rule is literals, feature names, the operators below,
// `cond ? a : b` / `if`, the allowed builtins and helpers, and lists of
// literals or integer ranges only after `in`. There is no way to name
// anything but a feature, no loop, no variable and no dynamic regex.
func sandbox(root ast.Node) error {
	var walk func(n ast.Node, inOperand bool) error
	fail := func(n ast.Node, format string, args ...any) error {
		return &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
	walk = func(n ast.Node, inOperand bool) error {
		switch n := n.(type) {
		case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.StringNode:
			return nil
		case *ast.IdentifierNode:
			if strings.HasPrefix(n.Value, "$") {
				return fail(n, "%s is not available in rules; name features directly", n.Value)
			}
			return nil
		case *ast.UnaryNode:
			return walk(n.Node, false)
		case *ast.BinaryNode:
			switch n.Operator {
			case "&&", "and", "||", "or", "==", "!=", "<", "<=", ">", ">=",
				"+", "-", "*", "/", "%", "**", "^", "contains", "startsWith", "endsWith":
			case "matches":
				if _, ok := n.Right.(*ast.StringNode); !ok {
					return fail(n, "matches needs a string literal pattern (compiled once at load)")
				}
				if _, err := regexp.Compile(n.Right.(*ast.StringNode).Value); err != nil {
					return fail(n.Right, "bad pattern: %v", err)
				}
			case "in":
				if err := walk(n.Left, false); err != nil {
					return err
				}
				return walk(n.Right, true)
			case "..":
				_, fromOK := n.Left.(*ast.IntegerNode)
				_, toOK := n.Right.(*ast.IntegerNode)
				if !inOperand || !fromOK || !toOK {
					return fail(n, "a range a..b is only allowed as `x in 1..5` with integer literals")
				}
				return nil
			default:
				return fail(n, "operator %s is not available in rules", n.Operator)
			}
			if err := walk(n.Left, false); err != nil {
				return err
			}
			return walk(n.Right, false)
		case *ast.ArrayNode:
			if !inOperand {
				return fail(n, "a list is only allowed after in, e.g. country in [\"KP\", \"IR\"]")
			}
			for _, e := range n.Nodes {
				switch e.(type) {
				case *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode, *ast.StringNode:
				default:
					return fail(e, "list elements must be literals")
				}
			}
			return nil
		case *ast.ConditionalNode:
			for _, c := range []ast.Node{n.Cond, n.Exp1, n.Exp2} {
				if err := walk(c, false); err != nil {
					return err
				}
			}
			return nil
		case *ast.BuiltinNode:
			// The parser makes predicate builtins (all, filter, map, ...)
			// into BuiltinNodes even when they are disabled.
			if !slices.Contains(allowedBuiltins, n.Name) {
				return fail(n, "builtin %s is not available in rules; allowed: %s, %s", n.Name, strings.Join(allowedBuiltins, ", "), helperNames())
			}
			for _, a := range n.Arguments {
				if err := walk(a, false); err != nil {
					return err
				}
			}
			return nil
		case *ast.CallNode:
			id, ok := n.Callee.(*ast.IdentifierNode)
			if !ok {
				if err := walk(n.Callee, false); err != nil {
					return err
				}
				return fail(n, "only helper functions can be called")
			}
			h, ok := lookupHelper(id.Value)
			if !ok {
				if _, isBuiltin := builtin.Index[id.Value]; isBuiltin {
					return fail(n, "builtin %s is not available in rules; allowed: %s, %s", id.Value, strings.Join(allowedBuiltins, ", "), helperNames())
				}
				return fail(n, "unknown function %s; available: %s, %s", id.Value, strings.Join(allowedBuiltins, ", "), helperNames())
			}
			for _, a := range n.Arguments {
				if err := walk(a, false); err != nil {
					return err
				}
			}
			if h.check != nil {
				if err := h.check(n.Arguments); err != nil {
					return fail(n, "%v", err)
				}
			}
			return nil
		case *ast.NilNode:
			return fail(n, "nil is not available in rules: features always have a value")
		case *ast.VariableDeclaratorNode:
			return fail(n, "let is not available in rules")
		case *ast.SequenceNode:
			return fail(n, "a rule is one expression; ; is not available")
		case *ast.MemberNode:
			if id, ok := n.Node.(*ast.IdentifierNode); ok && strings.HasPrefix(id.Value, "$") {
				return fail(n, "%s is not available in rules; name features directly", id.Value)
			}
			if err := walk(n.Node, false); err != nil {
				return err
			}
			return fail(n, "indexing and member access are not available in rules (features are plain values)")
		case *ast.ChainNode, *ast.SliceNode:
			return fail(n, "indexing and member access are not available in rules (features are plain values)")
		case *ast.MapNode, *ast.PairNode:
			return fail(n, "maps are not available in rules")
		case *ast.PredicateNode, *ast.PointerNode:
			return fail(n, "predicates (#, {...}) are not available in rules")
		}
		return fail(n, "%T is not available in rules", n)
	}
	return walk(root, false)
}

// checkRanges rejects a range left in the checked, optimised tree (so built
// at run time) that has more than maxRangeValues values.
func checkRanges(root ast.Node) error {
	v := rangeChecker{}
	ast.Walk(&root, &v)
	return v.err
}

type rangeChecker struct{ err error }

func (v *rangeChecker) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.BinaryNode)
	if !ok || n.Operator != ".." || v.err != nil {
		return
	}
	from, fromOK := n.Left.(*ast.IntegerNode)
	to, toOK := n.Right.(*ast.IntegerNode)
	// uint64 keeps the width of ranges near the int limits exact.
	if fromOK && toOK && (to.Value < from.Value || uint64(to.Value)-uint64(from.Value) < maxRangeValues) {
		return
	}
	v.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(
		"a range of more than %d values over a non-integer is built on every login; compare instead (x >= a && x <= b)", maxRangeValues)}
}

func helperNames() string {
	names := make([]string, len(helpers))
	for i, h := range helpers {
		names[i] = h.name
	}
	return strings.Join(names, ", ")
}
