package rules

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/loginrisk/loginrisk/schemas"
	"go.yaml.in/yaml/v3"
)

// feature is one feature of the catalogue (schemas.FeatureCatalogue) with
// what the loader, the detail templates, the test cases and the compiled
// expressions need to read or set it.
type feature struct {
	name   string
	index  int
	offset uintptr
	kind   reflect.Kind
}

// catalogue maps the expr names of schemas.Features to their fields: an
// index of schemas.FeatureCatalogue, built once.
type catalogue struct {
	byName map[string]feature
	names  []string // sorted
	err    error    // the catalogue's error: the tags of schemas.Features are wrong
}

var featureCatalogue = sync.OnceValue(func() *catalogue {
	features, err := schemas.FeatureCatalogue()
	c := &catalogue{byName: make(map[string]feature, len(features)), err: err}
	for _, f := range features {
		c.byName[f.Name] = feature{name: f.Name, index: f.Index, offset: f.Offset, kind: f.Kind}
		c.names = append(c.names, f.Name)
	}
	sort.Strings(c.names)
	return c
})

// lookupFeature returns the feature rules call name.
func lookupFeature(name string) (feature, bool) {
	f, ok := featureCatalogue().byName[name]
	return f, ok
}

// FeatureNames lists the names rules, detail templates and test cases can
// use, sorted: the `expr` tags of schemas.Features.
func FeatureNames() []string {
	return append([]string(nil), featureCatalogue().names...)
}

// getter reads the field of type T at off. The kind was checked against
// the struct field when the catalogue was built, so the pointer conversion
// matches the field's type; this is what keeps compiled rules free of
// reflection and allocation on the hot path. It returns a closure over the
// offset alone, the cheapest thing to call: each of the four field types
// is a GC shape of its own, so every instantiation compiles to the same
// two-instruction load a hand-written getter did.
func getter[T bool | int | float64 | string](off uintptr) func(*schemas.Features) T {
	return func(f *schemas.Features) T { return *(*T)(unsafe.Add(unsafe.Pointer(f), off)) }
}

// appendValue formats the feature's value for a detail text: integers and
// booleans as Go prints them, strings as they are but an empty one as
// "unknown" (a login without a user agent or a city would otherwise read
// "new device:  on "), and floats without noise (see appendFloat).
func (ft feature) appendValue(dst []byte, f *schemas.Features) []byte {
	v := reflect.ValueOf(f).Elem().Field(ft.index)
	switch ft.kind {
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool())
	case reflect.Int:
		return strconv.AppendInt(dst, v.Int(), 10)
	case reflect.Float64:
		return appendFloat(dst, v.Float())
	default:
		if v.Len() == 0 {
			return append(dst, "unknown"...)
		}
		return append(dst, v.String()...)
	}
}

// appendFloat prints a float for people: whole numbers and values of 100 or
// more without decimals (1234.56 → "1235"), smaller values with at most two
// decimals and no trailing zeros (0.256 → "0.26", 2.5 → "2.5").
func appendFloat(dst []byte, v float64) []byte {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		return strconv.AppendFloat(dst, v, 'f', 0, 64)
	}
	s := strconv.AppendFloat(dst, v, 'f', 2, 64)
	for len(s) > len(dst) && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > len(dst) && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// setFeature assigns a YAML scalar to the named feature of f, for test
// cases. Integers are accepted for float features; anything else that does
// not match the field's kind is an error.
func setFeature(f *schemas.Features, name string, value *yaml.Node) error {
	ft, ok := lookupFeature(name)
	if !ok {
		return fmt.Errorf("unknown feature %q", name)
	}
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("feature %s: want a scalar value", name)
	}
	field := reflect.ValueOf(f).Elem().Field(ft.index)
	switch ft.kind {
	case reflect.Bool:
		var b bool
		if value.ShortTag() != "!!bool" || value.Decode(&b) != nil {
			return fmt.Errorf("feature %s: %q is not a boolean", name, value.Value)
		}
		field.SetBool(b)
	case reflect.Int:
		var n int
		if value.ShortTag() != "!!int" || value.Decode(&n) != nil {
			return fmt.Errorf("feature %s: %q is not an integer", name, value.Value)
		}
		field.SetInt(int64(n))
	case reflect.Float64:
		var x float64
		if (value.ShortTag() != "!!float" && value.ShortTag() != "!!int") || value.Decode(&x) != nil {
			return fmt.Errorf("feature %s: %q is not a number", name, value.Value)
		}
		field.SetFloat(x)
	case reflect.String:
		field.SetString(value.Value)
	}
	return nil
}

// template is a parsed detail text: literal pieces and the features to
// quote between them.
type template struct {
	parts []templatePart
}

type templatePart struct {
	literal string
	feature feature
	isField bool
}

// parseTemplate parses "{user_failures_15m} failures in 15 min" into parts.
// "{{" and "}}" stand for literal braces. Unknown feature names and
// unbalanced braces are errors.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, templatePart{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return template{}, fmt.Errorf("unclosed { at byte %d", i)
			}
			name := strings.TrimSpace(s[i+1 : i+1+end])
			ft, ok := lookupFeature(name)
			if !ok {
				return template{}, fmt.Errorf("unknown feature {%s}", name)
			}
			flush()
			t.parts = append(t.parts, templatePart{feature: ft, isField: true})
			i += end + 1
		case c == '}':
			return template{}, fmt.Errorf("unmatched } at byte %d (write }} for a literal brace)", i)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// static returns the text of a template without fields, which renders
// without allocating.
func (t template) static() (string, bool) {
	switch {
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && !t.parts[0].isField:
		return t.parts[0].literal, true
	}
	return "", false
}

// render fills the template from f.
func (t template) render(f *schemas.Features) string {
	if s, ok := t.static(); ok {
		return s
	}
	return string(t.appendTo(make([]byte, 0, 64), f))
}

// appendTo appends the filled template to dst.
func (t template) appendTo(dst []byte, f *schemas.Features) []byte {
	for _, p := range t.parts {
		if p.isField {
			dst = p.feature.appendValue(dst, f)
		} else {
			dst = append(dst, p.literal...)
		}
	}
	return dst
}
