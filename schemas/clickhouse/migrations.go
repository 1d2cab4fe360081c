package clickhouse

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

//go:embed migrations/*.sql queries/*.sql
var files embed.FS

// SchemaMigrationsTable is the table that records applied migrations. It is
// created before any migration runs, so it is not a migration itself.
const SchemaMigrationsTable = "schema_migrations"

// SchemaMigrationsDDL creates SchemaMigrationsTable. ReplacingMergeTree
// collapses the duplicate row two instances migrating at the same moment
// could write.
const SchemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`

// Migration is one numbered file of migrations/: NNNN_name.sql. The file
// starts with comment lines describing it; a header line
// "-- requires: 20.3" makes the migration apply only to servers of that
// release or later (older servers skip it and keep it pending). The body is
// a text/template rendered with Capabilities, holding one or more
// statements separated by semicolons.
type Migration struct {
	Version     int
	Name        string // file name, "0001_login_events.sql"
	Description string // the header comment, without the comment markers
	// Requires is the oldest server release the migration applies to;
	// zero means every supported release.
	Requires ServerVersion
	// Checksum is the SHA-256 of the file (hex), recorded when applied.
	Checksum string
	Text     string

	tmpl *template.Template
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations, sorted by version.
func Migrations() ([]Migration, error) {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		return nil, err
	}
	return LoadMigrations(sub)
}

// LoadMigrations reads the *.sql files at the root of fsys as migrations,
// sorted by version. Every file is parsed and its template checked, so a
// broken file fails here rather than half-way through migrating.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := make(map[int]string)
	for _, name := range names {
		m := migrationName.FindStringSubmatch(name)
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_lower_snake.sql", name)
		}
		version, _ := strconv.Atoi(m[1])
		if version == 0 {
			return nil, fmt.Errorf("migration %s: version 0000 is reserved", name)
		}
		if prev, ok := seen[version]; ok {
			return nil, fmt.Errorf("migration %s: version %04d is also used by %s", name, version, prev)
		}
		seen[version] = name
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		mig, err := parseMigration(name, version, data)
		if err != nil {
			return nil, err
		}
		out = append(out, mig)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func parseMigration(name string, version int, data []byte) (Migration, error) {
	sum := sha256.Sum256(data)
	m := Migration{Version: version, Name: name, Checksum: hex.EncodeToString(sum[:]), Text: string(data)}
	header, err := parseHeader(string(data))
	if err != nil {
		return Migration{}, fmt.Errorf("migration %s: %w", name, err)
	}
	m.Description = strings.Join(header.text, "\n")
	for _, d := range header.directives {
		switch d.key {
		case "requires":
			v, err := ParseServerVersion(d.value)
			if err != nil {
				return Migration{}, fmt.Errorf("migration %s: requires: %w", name, err)
			}
			m.Requires = v
		default:
			return Migration{}, fmt.Errorf("migration %s: unknown header directive %q (want requires)", name, d.key)
		}
	}
	m.tmpl, err = template.New(name).Option("missingkey=error").Funcs(templateFuncs(Capabilities{})).Parse(m.Text)
	if err != nil {
		return Migration{}, fmt.Errorf("migration %s: %w", name, err)
	}
	// Render once for the oldest and a current server so that a template
	// error shows at load time.
	for _, caps := range []Capabilities{CapabilitiesOf(MinServerVersion()), CapabilitiesOf(ServerVersion{Major: 99})} {
		stmts, err := m.Statements(caps)
		if err != nil {
			return Migration{}, err
		}
		if len(stmts) == 0 {
			return Migration{}, fmt.Errorf("migration %s: no statements", name)
		}
	}
	return m, nil
}

// AppliesTo reports whether the migration runs on a server of version v.
func (m *Migration) AppliesTo(v ServerVersion) bool {
	return m.Requires.IsZero() || v.AtLeast(m.Requires)
}

// Statements renders the migration for a server and splits it into
// statements.
func (m *Migration) Statements(caps Capabilities) ([]string, error) {
	if m.tmpl == nil {
		return nil, fmt.Errorf("migration %s was not loaded with LoadMigrations", m.Name)
	}
	var b strings.Builder
	t, err := m.tmpl.Clone()
	if err != nil {
		return nil, err
	}
	if err := t.Funcs(templateFuncs(caps)).Execute(&b, caps); err != nil {
		return nil, fmt.Errorf("rendering migration %s: %w", m.Name, err)
	}
	return SplitStatements(b.String())
}

func templateFuncs(caps Capabilities) template.FuncMap {
	return template.FuncMap{
		// lc wraps a type in LowCardinality when the server has it.
		"lc": func(typ string) string {
			if caps.LowCardinality {
				return "LowCardinality(" + typ + ")"
			}
			return typ
		},
		// codec adds a column codec when the server has them.
		"codec": func(codecs string) string {
			if caps.Codecs {
				return " CODEC(" + codecs + ")"
			}
			return ""
		},
	}
}

type headerDirective struct{ key, value string }

type header struct {
	text       []string
	directives []headerDirective
}

var directiveLine = regexp.MustCompile(`^([a-z]+):\s*(.*)$`)

// parseHeader reads the comment lines at the top of a SQL file: plain text
// and "key: value" directives (a known set per file kind, checked by the
// caller) or "@param" lines (queries).
func parseHeader(text string) (header, error) {
	var h header
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") {
			break
		}
		body := strings.TrimSpace(strings.TrimPrefix(line, "--"))
		if m := directiveLine.FindStringSubmatch(body); m != nil && (m[1] == "requires") {
			h.directives = append(h.directives, headerDirective{key: m[1], value: strings.TrimSpace(m[2])})
			continue
		}
		h.text = append(h.text, body)
	}
	for len(h.text) > 0 && h.text[len(h.text)-1] == "" {
		h.text = h.text[:len(h.text)-1]
	}
	return h, nil
}

// SplitStatements splits SQL text into statements at semicolons that are
// outside string literals, quoted identifiers and comments. Statements that
// hold only comments and white space are dropped; the others are returned
// trimmed, without the semicolon.
func SplitStatements(sql string) ([]string, error) {
	var out []string
	start, hasCode := 0, false
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			end, ok := closingQuote(sql, i)
			if !ok {
				return nil, fmt.Errorf("unterminated %c quote starting at line %d", c, lineOf(sql, i))
			}
			i, hasCode = end, true
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if nl := strings.IndexByte(sql[i:], '\n'); nl >= 0 {
				i += nl
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment starting at line %d", lineOf(sql, i))
			}
			i += 2 + end + 1
		case c == ';':
			if hasCode {
				out = append(out, strings.TrimSpace(sql[start:i]))
			}
			start, hasCode = i+1, false
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			hasCode = true
		}
	}
	if hasCode {
		out = append(out, strings.TrimSpace(sql[start:]))
	}
	return out, nil
}

// closingQuote returns the index of the quote closing the one at i; a
// backslash escapes the next byte and a doubled quote stands for itself.
func closingQuote(s string, i int) (int, bool) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j, true
		}
	}
	return 0, false
}

func lineOf(s string, i int) int { return strings.Count(s[:i], "\n") + 1 }

// baseName strips the directory and the .sql extension.
func baseName(name string) string { return strings.TrimSuffix(path.Base(name), ".sql") }
