package schemas

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Feature is one entry of the feature catalogue: a field of Features and
// what its struct tags say about it (see Features for the tags).
type Feature struct {
	Name  string // expr tag: the identifier rules use
	Field string // Go field name
	// Kind is the field's kind: reflect.Bool, Int, Float64 or String.
	Kind  reflect.Kind
	Type  string // bool, int, float or string, as the documentation names it
	Unit  string
	Group string // the documentation heading the feature falls under
	Doc   string
	// Column is the login_events column storing the feature, empty for a
	// feature recomputed from the stored event (column:"-").
	Column string
	// ColumnType is the ClickHouse type of the values written to Column
	// (UInt8, UInt32, Float64 or String); a migration may store them
	// LowCardinality or with a codec.
	ColumnType string
	Index      int     // index of the field in Features
	Offset     uintptr // offset of the field in Features
}

// ErrFeatureTags is wrapped by the error FeatureCatalogue returns when the
// struct tags of Features are incomplete or contradict each other.
var ErrFeatureTags = errors.New("schemas: bad feature tags")

// FeatureCatalogue returns the features of Features in field order, read
// from its struct tags. The reflection runs once; every call returns a copy
// the caller may keep or change. The error names every field whose tags are
// wrong (no expr or doc, a name that is not snake_case or is used twice, a
// kind other than bool, int, float64 and string, a first field without a
// group); a test keeps it nil.
func FeatureCatalogue() ([]Feature, error) {
	c, err := featureCatalogue()
	return slices.Clone(c), err
}

var featureCatalogue = sync.OnceValues(func() ([]Feature, error) {
	return buildCatalogue(reflect.TypeFor[Features]())
})

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// buildCatalogue reads the feature tags of the struct type t.
func buildCatalogue(t reflect.Type) ([]Feature, error) {
	out := make([]Feature, 0, t.NumField())
	var problems []string
	bad := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	names, columns := map[string]string{}, map[string]string{}
	group := ""
	for i := range t.NumField() {
		sf := t.Field(i)
		f := Feature{
			Name:   sf.Tag.Get("expr"),
			Field:  sf.Name,
			Kind:   sf.Type.Kind(),
			Unit:   sf.Tag.Get("unit"),
			Doc:    sf.Tag.Get("doc"),
			Index:  i,
			Offset: sf.Offset,
		}
		if g, ok := sf.Tag.Lookup("group"); ok {
			group = g
		}
		f.Group = group
		var ok bool
		if f.Type, f.ColumnType, ok = featureTypes(f.Kind); !ok {
			bad(sf.Name, "kind %s is not bool, int, float64 or string", f.Kind)
		}
		switch column, tagged := sf.Tag.Lookup("column"); {
		case !tagged:
			f.Column = f.Name
		case column != "-":
			f.Column = column
		}
		switch {
		case !sf.IsExported():
			bad(sf.Name, "not exported")
		case f.Name == "":
			bad(sf.Name, "no expr tag")
		case !snakeCase.MatchString(f.Name):
			bad(sf.Name, "expr name %q is not snake_case", f.Name)
		case names[f.Name] != "":
			bad(sf.Name, "expr name %q is also %s's", f.Name, names[f.Name])
		}
		names[f.Name] = sf.Name
		if f.Column != "" {
			if !snakeCase.MatchString(f.Column) {
				bad(sf.Name, "column %q is not snake_case", f.Column)
			} else if other := columns[f.Column]; other != "" {
				bad(sf.Name, "column %q is also %s's", f.Column, other)
			}
			columns[f.Column] = sf.Name
		}
		if f.Doc == "" {
			bad(sf.Name, "no doc")
		}
		if f.Group == "" {
			bad(sf.Name, "no group")
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrFeatureTags, strings.Join(problems, "; "))
	}
	return out, nil
}

// featureTypes names a feature kind in the documentation and the
// ClickHouse type of its column.
func featureTypes(k reflect.Kind) (doc, column string, ok bool) {
	switch k {
	case reflect.Bool:
		return "bool", "UInt8", true
	case reflect.Int:
		return "int", "UInt32", true
	case reflect.Float64:
		return "float", "Float64", true
	case reflect.String:
		return "string", "String", true
	}
	return "", "", false
}

// SetEventFeatures sets the features that come from the event alone: those
// tagged column:"-", which the history recomputes from the stored event
// instead of storing them.
func (f *Features) SetEventFeatures(ev *LoginEvent) {
	f.UserID = ev.UserID
	f.IP = ev.IP
	f.Success = ev.Success()
	f.Failure = !f.Success
	f.FailureReason = ev.FailureReason
	f.AuthMethod = ev.AuthMethod
	f.TenantID = ev.TenantID
	f.HourUTC = ev.OccurredAt.UTC().Hour()
}
