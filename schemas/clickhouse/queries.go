package clickhouse

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Query is one named analyst query of queries/: NAME.sql. The file starts
// with comment lines: a description, then one line per parameter,
//
//	-- @param NAME TYPE DEFAULT description...
//
// where DEFAULT is "-" for a required parameter and ” for the empty
// string (a String whose default is empty). The body refers to
// parameters as {NAME:TYPE}; Render substitutes them with literals built
// from the parsed value (ClickHouse 18.16 has no server-side query
// parameters), so a value can never change the query's structure.
type Query struct {
	Name        string
	Description string
	Params      []Param
	Text        string
}

// Param is one parameter of a Query.
type Param struct {
	Name        string
	Type        string // one of ParamTypes()
	Default     string // as written: "" when required, emptyDefault for the empty string
	Description string
}

// emptyDefault is the DEFAULT of a parameter whose default is the empty
// string.
const emptyDefault = "''"

// Required reports whether the parameter has no default.
func (p Param) Required() bool { return p.Default == "" }

// defaultValue is the value of the parameter when it is not given.
func (p Param) defaultValue() string {
	if p.Default == emptyDefault {
		return ""
	}
	return p.Default
}

// paramTypes is the table ParamTypes copies.
var paramTypes = []string{"String", "UInt32", "UInt64", "Int64", "Float64", "DateTime"}

// ParamTypes returns the parameter types a query may declare. DateTime
// values are RFC 3339 times, "2006-01-02", "2006-01-02 15:04:05" (UTC),
// "now", or a negative offset from now such as "-24h", "-90m" or "-7d".
func ParamTypes() []string { return slices.Clone(paramTypes) }

var (
	paramLine   = regexp.MustCompile(`^@param\s+([a-z_][a-z0-9_]*)\s+([A-Za-z0-9]+)\s+(\S+)\s*(.*)$`)
	placeholder = regexp.MustCompile(`\{([a-z_][a-z0-9_]*):([A-Za-z0-9]+)\}`)
)

// Queries returns the embedded analyst queries, sorted by name.
func Queries() ([]Query, error) {
	sub, err := fs.Sub(files, "queries")
	if err != nil {
		return nil, err
	}
	return LoadQueries(sub)
}

// LookupQuery returns the embedded query called name.
func LookupQuery(name string) (Query, error) {
	qs, err := Queries()
	if err != nil {
		return Query{}, err
	}
	for _, q := range qs {
		if q.Name == name {
			return q, nil
		}
	}
	names := make([]string, len(qs))
	for i, q := range qs {
		names[i] = q.Name
	}
	return Query{}, fmt.Errorf("unknown query %q (known: %s)", name, strings.Join(names, ", "))
}

// LoadQueries reads the *.sql files at the root of fsys as queries and
// checks each: every placeholder declared with the same type, every
// parameter used, every default valid.
func LoadQueries(fsys fs.FS) ([]Query, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading query %s: %w", name, err)
		}
		q, err := parseQuery(baseName(name), string(data))
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", name, err)
		}
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func parseQuery(name, text string) (Query, error) {
	q := Query{Name: name, Text: text}
	var desc []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") {
			break
		}
		body := strings.TrimSpace(strings.TrimPrefix(line, "--"))
		if !strings.HasPrefix(body, "@") {
			desc = append(desc, body)
			continue
		}
		m := paramLine.FindStringSubmatch(body)
		if m == nil {
			return Query{}, fmt.Errorf("bad parameter line %q: want @param NAME TYPE DEFAULT description", body)
		}
		p := Param{Name: m[1], Type: m[2], Default: m[3], Description: m[4]}
		if p.Default == "-" {
			p.Default = ""
		}
		if !slices.Contains(paramTypes, p.Type) {
			return Query{}, fmt.Errorf("parameter %s: type %s is not one of %s", p.Name, p.Type, strings.Join(paramTypes, ", "))
		}
		if slices.ContainsFunc(q.Params, func(o Param) bool { return o.Name == p.Name }) {
			return Query{}, fmt.Errorf("parameter %s declared twice", p.Name)
		}
		if p.Default == emptyDefault && p.Type != "String" {
			return Query{}, fmt.Errorf("parameter %s: the empty default %s needs type String, not %s", p.Name, emptyDefault, p.Type)
		}
		if p.Default != "" {
			if _, err := literal(p, p.defaultValue(), time.Unix(2e9, 0)); err != nil {
				return Query{}, fmt.Errorf("default of %w", err)
			}
		}
		q.Params = append(q.Params, p)
	}
	for len(desc) > 0 && desc[len(desc)-1] == "" {
		desc = desc[:len(desc)-1]
	}
	q.Description = strings.Join(desc, "\n")
	if q.Description == "" {
		return Query{}, fmt.Errorf("missing description comment")
	}
	used := make(map[string]bool)
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		p, ok := q.param(m[1])
		if !ok {
			return Query{}, fmt.Errorf("placeholder {%s:%s} has no @param line", m[1], m[2])
		}
		if p.Type != m[2] {
			return Query{}, fmt.Errorf("placeholder {%s:%s} does not match the declared type %s", m[1], m[2], p.Type)
		}
		used[p.Name] = true
	}
	for _, p := range q.Params {
		if !used[p.Name] {
			return Query{}, fmt.Errorf("parameter %s is declared but not used", p.Name)
		}
	}
	stmts, err := SplitStatements(text)
	if err != nil {
		return Query{}, err
	}
	if len(stmts) != 1 {
		return Query{}, fmt.Errorf("holds %d statements, want exactly one", len(stmts))
	}
	return q, nil
}

func (q *Query) param(name string) (Param, bool) {
	for _, p := range q.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Render returns the query text with every placeholder replaced by a
// literal of the parameter's value, or its default; relative times count
// from now. It fails on an unknown or missing parameter and on a value that
// does not parse as its type.
func (q *Query) Render(params map[string]string, now time.Time) (string, error) {
	for name := range params {
		if _, ok := q.param(name); !ok {
			known := make([]string, len(q.Params))
			for i, p := range q.Params {
				known[i] = p.Name
			}
			return "", fmt.Errorf("query %s has no parameter %q (parameters: %s)", q.Name, name, strings.Join(known, ", "))
		}
	}
	literals := make(map[string]string, len(q.Params))
	for _, p := range q.Params {
		v, ok := params[p.Name]
		if !ok {
			if p.Required() {
				return "", fmt.Errorf("query %s: parameter %s (%s) is required", q.Name, p.Name, p.Type)
			}
			v = p.defaultValue()
		}
		lit, err := literal(p, v, now)
		if err != nil {
			return "", fmt.Errorf("query %s: %w", q.Name, err)
		}
		literals[p.Name] = lit
	}
	body := stripHeader(q.Text)
	body = placeholder.ReplaceAllStringFunc(body, func(s string) string {
		return literals[placeholder.FindStringSubmatch(s)[1]]
	})
	return strings.TrimSuffix(strings.TrimSpace(body), ";"), nil
}

// stripHeader drops the leading comment lines, so the rendered query does
// not carry the (placeholder-bearing) parameter documentation.
func stripHeader(text string) string {
	lines := strings.Split(text, "\n")
	i := 0
	for i < len(lines) && (strings.HasPrefix(strings.TrimSpace(lines[i]), "--") || strings.TrimSpace(lines[i]) == "") {
		i++
	}
	return strings.Join(lines[i:], "\n")
}

// literal turns a parameter value into a ClickHouse literal of its type.
func literal(p Param, v string, now time.Time) (string, error) {
	bad := func(err error) error {
		return fmt.Errorf("parameter %s: %q is not a valid %s: %v", p.Name, v, p.Type, err)
	}
	switch p.Type {
	case "String":
		return QuoteString(v), nil
	case "UInt32", "UInt64":
		bits := 64
		if p.Type == "UInt32" {
			bits = 32
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return "", bad(err)
		}
		return strconv.FormatUint(n, 10), nil
	case "Int64":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", bad(err)
		}
		return strconv.FormatInt(n, 10), nil
	case "Float64":
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = fmt.Errorf("not a finite number")
		}
		if err != nil {
			return "", bad(err)
		}
		return "toFloat64(" + strconv.FormatFloat(f, 'f', -1, 64) + ")", nil
	case "DateTime":
		t, err := ParseTime(v, now)
		if err != nil {
			return "", bad(err)
		}
		return DateTimeLiteral(t), nil
	}
	return "", fmt.Errorf("parameter %s: unsupported type %s", p.Name, p.Type)
}

// QuoteString returns s as a ClickHouse string literal.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// DateTimeLiteral returns t as a DateTime('UTC') expression built from the
// Unix time, so it means the same instant whatever the server's time zone.
func DateTimeLiteral(t time.Time) string {
	sec := t.Unix()
	if sec < 0 {
		sec = 0
	}
	if sec > math.MaxUint32 {
		sec = math.MaxUint32
	}
	return "toDateTime(" + strconv.FormatInt(sec, 10) + ", 'UTC')"
}

// ParseTime parses a DateTime parameter value: RFC 3339, "2006-01-02",
// "2006-01-02 15:04:05" or "2006-01-02T15:04:05" (UTC), "now", or a
// negative offset from now ("-24h", "-90m", "-7d").
func ParseTime(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "now" {
		return now, nil
	}
	if strings.HasPrefix(v, "-") {
		d, err := parseOffset(v[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want RFC 3339, YYYY-MM-DD[ HH:MM:SS], now or -DURATION")
}

// parseOffset parses a Go duration, also accepting a whole number of days
// ("7d").
func parseOffset(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("offset %q must not be negative twice", s)
	}
	return d, nil
}
