package rules

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/loginrisk/loginrisk/schemas"
)

// Lowering turns the type-checked, optimised AST of a rule expression into
// a tree of typed Go closures over *schemas.Features. expr's VM boxes every
// value it loads into an interface (one allocation per field read when the
// environment is a pointer, one copy of the whole struct per run when it is
// a value) and dispatches each opcode through an interface switch; the
// closures read fields at their offsets and allocate nothing. expr remains
// the language, the type checker and the reference: a rule whose tree uses
// anything lowering does not know keeps running on expr's VM, and a test
// checks both give the same answers.

type (
	boolFn   = func(*schemas.Features) bool
	intFn    = func(*schemas.Features) int
	floatFn  = func(*schemas.Features) float64
	stringFn = func(*schemas.Features) string
)

// lowered is one lowered node: its kind and the closure of that kind. When
// the node is a literal, konst holds its value too, so operators can
// specialise on constants.
type lowered struct {
	kind  reflect.Kind // Bool, Int, Float64 or String
	b     boolFn
	i     intFn
	x     floatFn
	s     stringFn
	konst any
}

func constBool(v bool) lowered {
	return lowered{kind: reflect.Bool, b: func(*schemas.Features) bool { return v }, konst: v}
}
func constInt(v int) lowered {
	return lowered{kind: reflect.Int, i: func(*schemas.Features) int { return v }, konst: v}
}
func constFloat(v float64) lowered {
	return lowered{kind: reflect.Float64, x: func(*schemas.Features) float64 { return v }, konst: v}
}
func constString(v string) lowered {
	return lowered{kind: reflect.String, s: func(*schemas.Features) string { return v }, konst: v}
}

func constOf(v any) (lowered, bool) {
	switch v := v.(type) {
	case bool:
		return constBool(v), true
	case int:
		return constInt(v), true
	case float64:
		return constFloat(v), true
	case string:
		return constString(v), true
	}
	return lowered{}, false
}

func (l lowered) numeric() bool { return l.kind == reflect.Int || l.kind == reflect.Float64 }

// float returns the node as a float closure, converting integers the way
// expr does when it mixes them with floats.
func (l lowered) float() floatFn {
	if l.kind == reflect.Float64 {
		return l.x
	}
	i := l.i
	return func(f *schemas.Features) float64 { return float64(i(f)) }
}

// errUnsupported says why a node cannot be lowered; the rule then runs on
// expr's VM.
type errUnsupported struct{ what string }

func (e errUnsupported) Error() string { return "not lowered: " + e.what }

func unsupported(format string, args ...any) (lowered, error) {
	return lowered{}, errUnsupported{fmt.Sprintf(format, args...)}
}

// lowerRule lowers a whole rule expression, which expr has checked to be a
// boolean.
func lowerRule(node ast.Node) (boolFn, error) {
	l, err := lower(node)
	if err != nil {
		return nil, err
	}
	if l.kind != reflect.Bool {
		return nil, errUnsupported{"result is " + l.kind.String()}
	}
	return l.b, nil
}

func lower(node ast.Node) (lowered, error) {
	l, err := lowerNode(node)
	if err != nil {
		return l, err
	}
	// The checker's static type must agree with ours; an interface type
	// means expr only knows the value at run time.
	if t := node.Type(); t != nil && t.Kind() != reflect.Interface && t.Kind() != l.kind {
		return unsupported("%s is %s for expr but %s when lowered", node, t.Kind(), l.kind)
	}
	return l, nil
}

func lowerNode(node ast.Node) (lowered, error) {
	switch n := node.(type) {
	case *ast.BoolNode:
		return constBool(n.Value), nil
	case *ast.IntegerNode:
		return constInt(n.Value), nil
	case *ast.FloatNode:
		return constFloat(n.Value), nil
	case *ast.StringNode:
		return constString(n.Value), nil
	case *ast.ConstantNode:
		if l, ok := constOf(n.Value); ok {
			return l, nil
		}
		return unsupported("constant of type %T", n.Value)
	case *ast.IdentifierNode:
		return lowerIdentifier(n)
	case *ast.UnaryNode:
		return lowerUnary(n)
	case *ast.BinaryNode:
		return lowerBinary(n)
	case *ast.ConditionalNode:
		return lowerConditional(n)
	case *ast.BuiltinNode:
		return lowerBuiltin(n)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return unsupported("call of %s", n.Callee)
		}
		h, ok := lookupHelper(id.Value)
		if !ok {
			return unsupported("call of %s", id.Value)
		}
		args, err := lowerAll(n.Arguments)
		if err != nil {
			return lowered{}, err
		}
		return h.lower(args)
	}
	return unsupported("node %T", node)
}

func lowerAll(nodes []ast.Node) ([]lowered, error) {
	out := make([]lowered, len(nodes))
	for i, n := range nodes {
		l, err := lower(n)
		if err != nil {
			return nil, err
		}
		out[i] = l
	}
	return out, nil
}

func lowerIdentifier(n *ast.IdentifierNode) (lowered, error) {
	ft, ok := lookupFeature(n.Value)
	if !ok {
		return unsupported("identifier %s", n.Value)
	}
	switch ft.kind {
	case reflect.Bool:
		return lowered{kind: reflect.Bool, b: getter[bool](ft.offset)}, nil
	case reflect.Int:
		return lowered{kind: reflect.Int, i: getter[int](ft.offset)}, nil
	case reflect.Float64:
		return lowered{kind: reflect.Float64, x: getter[float64](ft.offset)}, nil
	default:
		return lowered{kind: reflect.String, s: getter[string](ft.offset)}, nil
	}
}

func lowerUnary(n *ast.UnaryNode) (lowered, error) {
	v, err := lower(n.Node)
	if err != nil {
		return v, err
	}
	switch {
	case (n.Operator == "!" || n.Operator == "not") && v.kind == reflect.Bool:
		b := v.b
		return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return !b(f) }}, nil
	case n.Operator == "+" && v.numeric():
		return v, nil
	case n.Operator == "-" && v.kind == reflect.Int:
		i := v.i
		return lowered{kind: reflect.Int, i: func(f *schemas.Features) int { return -i(f) }}, nil
	case n.Operator == "-" && v.kind == reflect.Float64:
		x := v.x
		return lowered{kind: reflect.Float64, x: func(f *schemas.Features) float64 { return -x(f) }}, nil
	}
	return unsupported("unary %s on %s", n.Operator, v.kind)
}

func lowerBinary(n *ast.BinaryNode) (lowered, error) {
	if n.Operator == "in" {
		return lowerIn(n)
	}
	operands, err := lowerAll([]ast.Node{n.Left, n.Right})
	if err != nil {
		return lowered{}, err
	}
	l, r := operands[0], operands[1]
	switch n.Operator {
	case "&&", "and", "||", "or":
		if l.kind != reflect.Bool || r.kind != reflect.Bool {
			break
		}
		lb, rb := l.b, r.b
		if n.Operator == "&&" || n.Operator == "and" {
			return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return lb(f) && rb(f) }}, nil
		}
		return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return lb(f) || rb(f) }}, nil
	case "==", "!=":
		eq, err := lowerEqual(l, r)
		if err != nil {
			return lowered{}, err
		}
		if n.Operator == "!=" {
			return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return !eq(f) }}, nil
		}
		return lowered{kind: reflect.Bool, b: eq}, nil
	case "<", "<=", ">", ">=":
		switch {
		case l.kind == reflect.Int && r.kind == reflect.Int:
			return lowered{kind: reflect.Bool, b: compare(n.Operator, l.i, r.i, r.konst)}, nil
		case l.numeric() && r.numeric():
			var c any
			if r.konst != nil {
				c = toFloat(r.konst)
			}
			return lowered{kind: reflect.Bool, b: compare(n.Operator, l.float(), r.float(), c)}, nil
		case l.kind == reflect.String && r.kind == reflect.String:
			return lowered{kind: reflect.Bool, b: compare(n.Operator, l.s, r.s, r.konst)}, nil
		}
	case "+", "-", "*":
		switch {
		case l.kind == reflect.Int && r.kind == reflect.Int:
			return lowered{kind: reflect.Int, i: arithmetic(n.Operator, l.i, r.i)}, nil
		case l.numeric() && r.numeric():
			return lowered{kind: reflect.Float64, x: arithmetic(n.Operator, l.float(), r.float())}, nil
		case n.Operator == "+" && l.kind == reflect.String && r.kind == reflect.String:
			ls, rs := l.s, r.s
			return lowered{kind: reflect.String, s: func(f *schemas.Features) string { return ls(f) + rs(f) }}, nil
		}
	case "/":
		if l.numeric() && r.numeric() {
			lx, rx := l.float(), r.float()
			return lowered{kind: reflect.Float64, x: func(f *schemas.Features) float64 { return lx(f) / rx(f) }}, nil
		}
	case "%":
		// Only by a non-zero constant: a zero divisor is a run-time error,
		// which the VM reports and a closure could not.
		if c, ok := r.konst.(int); ok && c != 0 && l.kind == reflect.Int {
			li := l.i
			return lowered{kind: reflect.Int, i: func(f *schemas.Features) int { return li(f) % c }}, nil
		}
	case "**", "^":
		if l.numeric() && r.numeric() {
			lx, rx := l.float(), r.float()
			return lowered{kind: reflect.Float64, x: func(f *schemas.Features) float64 { return math.Pow(lx(f), rx(f)) }}, nil
		}
	case "contains", "startsWith", "endsWith":
		if l.kind != reflect.String || r.kind != reflect.String {
			break
		}
		ls, rs := l.s, r.s
		var op func(string, string) bool
		switch n.Operator {
		case "contains":
			op = strings.Contains
		case "startsWith":
			op = strings.HasPrefix
		default:
			op = strings.HasSuffix
		}
		return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return op(ls(f), rs(f)) }}, nil
	case "matches":
		pattern, ok := r.konst.(string)
		if !ok || l.kind != reflect.String {
			break
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return unsupported("pattern %q: %v", pattern, err)
		}
		ls := l.s
		return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return re.MatchString(ls(f)) }}, nil
	}
	return unsupported("%s %s %s", l.kind, n.Operator, r.kind)
}

func toFloat(v any) float64 {
	if i, ok := v.(int); ok {
		return float64(i)
	}
	return v.(float64)
}

// compare builds an ordered comparison, reading a constant right-hand side
// once instead of through a closure on every call.
func compare[T cmp.Ordered](op string, l, r func(*schemas.Features) T, rConst any) boolFn {
	if c, ok := rConst.(T); ok {
		switch op {
		case "<":
			return func(f *schemas.Features) bool { return l(f) < c }
		case "<=":
			return func(f *schemas.Features) bool { return l(f) <= c }
		case ">":
			return func(f *schemas.Features) bool { return l(f) > c }
		default:
			return func(f *schemas.Features) bool { return l(f) >= c }
		}
	}
	switch op {
	case "<":
		return func(f *schemas.Features) bool { return l(f) < r(f) }
	case "<=":
		return func(f *schemas.Features) bool { return l(f) <= r(f) }
	case ">":
		return func(f *schemas.Features) bool { return l(f) > r(f) }
	default:
		return func(f *schemas.Features) bool { return l(f) >= r(f) }
	}
}

func arithmetic[T int | float64](op string, l, r func(*schemas.Features) T) func(*schemas.Features) T {
	switch op {
	case "+":
		return func(f *schemas.Features) T { return l(f) + r(f) }
	case "-":
		return func(f *schemas.Features) T { return l(f) - r(f) }
	default:
		return func(f *schemas.Features) T { return l(f) * r(f) }
	}
}

func equal[T comparable](l, r func(*schemas.Features) T, rConst any) boolFn {
	if c, ok := rConst.(T); ok {
		return func(f *schemas.Features) bool { return l(f) == c }
	}
	return func(f *schemas.Features) bool { return l(f) == r(f) }
}

// lowerEqual follows expr's runtime.Equal: numbers compare by value across
// int and float, strings and booleans with their own kind.
func lowerEqual(l, r lowered) (boolFn, error) {
	switch {
	case l.kind == reflect.Int && r.kind == reflect.Int:
		return equal(l.i, r.i, r.konst), nil
	case l.numeric() && r.numeric():
		var c any
		if r.konst != nil {
			c = toFloat(r.konst)
		}
		return equal(l.float(), r.float(), c), nil
	case l.kind == reflect.String && r.kind == reflect.String:
		return equal(l.s, r.s, r.konst), nil
	case l.kind == reflect.Bool && r.kind == reflect.Bool:
		return equal(l.b, r.b, r.konst), nil
	}
	return nil, errUnsupported{fmt.Sprintf("%s == %s", l.kind, r.kind)}
}

// lowerIn handles `x in [...]` after expr's optimiser: a constant set of
// ints or strings becomes a map lookup, any other list an OR of equalities.
func lowerIn(n *ast.BinaryNode) (lowered, error) {
	l, err := lower(n.Left)
	if err != nil {
		return l, err
	}
	var elems []lowered
	switch r := n.Right.(type) {
	case *ast.ConstantNode:
		switch set := r.Value.(type) {
		case map[int]struct{}:
			if l.kind == reflect.Int {
				li := l.i
				return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { _, ok := set[li(f)]; return ok }}, nil
			}
		case map[string]struct{}:
			if l.kind == reflect.String {
				ls := l.s
				return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { _, ok := set[ls(f)]; return ok }}, nil
			}
		case []any:
			for _, v := range set {
				e, ok := constOf(v)
				if !ok {
					return unsupported("%T in a list", v)
				}
				elems = append(elems, e)
			}
		default:
			return unsupported("in %T", r.Value)
		}
	case *ast.ArrayNode:
		if elems, err = lowerAll(r.Nodes); err != nil {
			return lowered{}, err
		}
	default:
		return unsupported("in %s", n.Right)
	}
	eqs := make([]boolFn, len(elems))
	for i, e := range elems {
		if eqs[i], err = lowerEqual(l, e); err != nil {
			return lowered{}, err
		}
	}
	return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool {
		for _, eq := range eqs {
			if eq(f) {
				return true
			}
		}
		return false
	}}, nil
}

func lowerConditional(n *ast.ConditionalNode) (lowered, error) {
	parts, err := lowerAll([]ast.Node{n.Cond, n.Exp1, n.Exp2})
	if err != nil {
		return lowered{}, err
	}
	c, a, b := parts[0], parts[1], parts[2]
	if c.kind != reflect.Bool || a.kind != b.kind {
		return unsupported("condition %s ? %s : %s", c.kind, a.kind, b.kind)
	}
	cond := c.b
	switch a.kind {
	case reflect.Bool:
		return lowered{kind: a.kind, b: ternary(cond, a.b, b.b)}, nil
	case reflect.Int:
		return lowered{kind: a.kind, i: ternary(cond, a.i, b.i)}, nil
	case reflect.Float64:
		return lowered{kind: a.kind, x: ternary(cond, a.x, b.x)}, nil
	default:
		return lowered{kind: a.kind, s: ternary(cond, a.s, b.s)}, nil
	}
}

func ternary[T any](cond boolFn, a, b func(*schemas.Features) T) func(*schemas.Features) T {
	return func(f *schemas.Features) T {
		if cond(f) {
			return a(f)
		}
		return b(f)
	}
}

// lowerBuiltin covers the builtins rules may use (allowedBuiltins).
func lowerBuiltin(n *ast.BuiltinNode) (lowered, error) {
	args, err := lowerAll(n.Arguments)
	if err != nil {
		return lowered{}, err
	}
	one := len(args) == 1
	switch {
	case n.Name == "len" && one && args[0].kind == reflect.String:
		s := args[0].s
		return lowered{kind: reflect.Int, i: func(f *schemas.Features) int { return len(s(f)) }}, nil
	case n.Name == "abs" && one && args[0].kind == reflect.Int:
		i := args[0].i
		return lowered{kind: reflect.Int, i: func(f *schemas.Features) int { return absolute(i(f)) }}, nil
	case n.Name == "abs" && one && args[0].kind == reflect.Float64:
		x := args[0].x
		return lowered{kind: reflect.Float64, x: func(f *schemas.Features) float64 { return absolute(x(f)) }}, nil
	case (n.Name == "lower" || n.Name == "upper") && one && args[0].kind == reflect.String:
		s, op := args[0].s, strings.ToLower
		if n.Name == "upper" {
			op = strings.ToUpper
		}
		return lowered{kind: reflect.String, s: func(f *schemas.Features) string { return op(s(f)) }}, nil
	case (n.Name == "hasPrefix" || n.Name == "hasSuffix") && len(args) == 2 &&
		args[0].kind == reflect.String && args[1].kind == reflect.String:
		a, b, op := args[0].s, args[1].s, strings.HasPrefix
		if n.Name == "hasSuffix" {
			op = strings.HasSuffix
		}
		return lowered{kind: reflect.Bool, b: func(f *schemas.Features) bool { return op(a(f), b(f)) }}, nil
	case (n.Name == "min" || n.Name == "max") && len(args) > 0:
		kind := args[0].kind
		for _, a := range args {
			if a.kind != kind {
				return unsupported("%s of mixed types", n.Name)
			}
		}
		switch kind {
		case reflect.Int:
			fns := make([]intFn, len(args))
			for i, a := range args {
				fns[i] = a.i
			}
			return lowered{kind: kind, i: extreme(n.Name == "max", fns)}, nil
		case reflect.Float64:
			fns := make([]floatFn, len(args))
			for i, a := range args {
				fns[i] = a.x
			}
			return lowered{kind: kind, x: extreme(n.Name == "max", fns)}, nil
		}
	}
	return unsupported("builtin %s", n.Name)
}

// absolute is expr's abs: the sign flips only below zero.
func absolute[T int | float64](v T) T {
	if v < 0 {
		return -v
	}
	return v
}

// extreme is expr's min / max over scalars: the running value is replaced
// when it compares less (max) or greater (min) than the next argument.
func extreme[T int | float64](isMax bool, fns []func(*schemas.Features) T) func(*schemas.Features) T {
	return func(f *schemas.Features) T {
		m := fns[0](f)
		for _, fn := range fns[1:] {
			v := fn(f)
			if (isMax && m < v) || (!isMax && m > v) {
				m = v
			}
		}
		return m
	}
}
