package clickhouse

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var (
	v1816 = ServerVersion{Major: 18, Minor: 16, Patch: 1}
	v2403 = ServerVersion{Major: 24, Minor: 3, Patch: 2}
)

func TestParseServerVersion(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ServerVersion
		wantErr bool
	}{
		{"debian", "18.16.1", v1816, false},
		{"four parts", "24.3.2.23", v2403, false},
		{"two parts", "20.3", ServerVersion{Major: 20, Minor: 3}, false},
		{"spaces", " 19.6.2\n", ServerVersion{Major: 19, Minor: 6, Patch: 2}, false},
		{"one part", "18", ServerVersion{}, true},
		{"letters", "18.x.1", ServerVersion{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseServerVersion(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseServerVersion(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if !v2403.AtLeast(v1816) || v1816.AtLeast(v2403) || !v1816.AtLeast(v1816) {
		t.Error("AtLeast orders versions wrongly")
	}
}

func TestCapabilities(t *testing.T) {
	old := CapabilitiesOf(v1816)
	if old.LowCardinality || old.Codecs {
		t.Errorf("18.16 capabilities %+v: want none of the optional features", old)
	}
	cur := CapabilitiesOf(v2403)
	if !cur.LowCardinality || !cur.Codecs {
		t.Errorf("24.3 capabilities %+v: want all", cur)
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 8 {
		t.Fatalf("got %d migrations", len(ms))
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %d is %s: versions must be 1, 2, 3, ... without gaps", i, m.Name)
		}
		if m.Description == "" || len(m.Checksum) != 64 {
			t.Errorf("%s: description %q checksum %q", m.Name, m.Description, m.Checksum)
		}
	}
	if ms[0].Name != "0001_login_events.sql" {
		t.Errorf("first migration is %s", ms[0].Name)
	}
	for _, tt := range []struct {
		name    string
		version ServerVersion
		absent  []string
		present []string
	}{
		{"18.16", v1816, []string{"LowCardinality(", "CODEC(", "{{", "TTL "}, []string{"ReplacingMergeTree(decided_at)"}},
		{"24.3", v2403, []string{"{{"}, []string{"LowCardinality(String)", "CODEC(ZSTD(3))"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var all strings.Builder
			for _, m := range ms {
				if !m.AppliesTo(tt.version) {
					continue
				}
				stmts, err := m.Statements(CapabilitiesOf(tt.version))
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range stmts {
					if strings.HasSuffix(s, ";") {
						t.Errorf("%s: statement keeps its semicolon", m.Name)
					}
					all.WriteString(s + "\n")
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(all.String(), s) {
					t.Errorf("rendered schema contains %q", s)
				}
			}
			for _, s := range tt.present {
				if !strings.Contains(all.String(), s) {
					t.Errorf("rendered schema lacks %q", s)
				}
			}
		})
	}
	// The skip-index migration is gated (found by name: later migrations
	// follow it).
	i := slices.IndexFunc(ms, func(m Migration) bool { return m.Name == "0008_skip_indexes.sql" })
	if i < 0 {
		t.Fatal("0008_skip_indexes.sql is missing")
	}
	if m := ms[i]; m.AppliesTo(v1816) || !m.AppliesTo(v2403) {
		t.Errorf("%s requires %v: want skipped on 18.16, applied on 24.3", m.Name, m.Requires)
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("-- fine\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n")}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"bad name", fstest.MapFS{"1_a.sql": ok}, "NNNN_lower_snake.sql"},
		{"duplicate version", fstest.MapFS{"0001_a.sql": ok, "0001_b.sql": ok}, "also used by"},
		{"reserved zero", fstest.MapFS{"0000_a.sql": ok}, "reserved"},
		{"bad template", fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x {{lc \"String\") ENGINE = Memory")}}, "0001_a.sql"},
		{"unknown function", fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x {{nope}}) ENGINE = Memory")}}, "nope"},
		{"bad requires", fstest.MapFS{"0001_a.sql": {Data: []byte("-- requires: soon\nSELECT 1")}}, "requires"},
		{"empty", fstest.MapFS{"0001_a.sql": {Data: []byte("-- nothing\n;\n")}}, "no statements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadMigrations(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	ms, err := LoadMigrations(fstest.MapFS{
		"0002_b.sql": {Data: []byte("-- second\n-- requires: 20.3\nSELECT 2")},
		"0001_a.sql": ok,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "0001_a.sql" || ms[1].Requires != (ServerVersion{Major: 20, Minor: 3}) || ms[1].Description != "second" {
		t.Fatalf("got %+v", ms)
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "SELECT 1", []string{"SELECT 1"}},
		{"two", "SELECT 1;\nSELECT 2;\n", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon in string", "SELECT 'a;b';\nSELECT 2", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"escaped quote", `SELECT 'it\'s;'; SELECT 'x''y;'`, []string{`SELECT 'it\'s;'`, `SELECT 'x''y;'`}},
		{"quoted identifier", "SELECT `a;b`, \"c;d\"", []string{"SELECT `a;b`, \"c;d\""}},
		{"line comment", "-- the user's; note\nSELECT 1; -- after; it\nSELECT 2", []string{"-- the user's; note\nSELECT 1", "-- after; it\nSELECT 2"}},
		{"block comment", "/* a; 'b */ SELECT 1;", []string{"/* a; 'b */ SELECT 1"}},
		{"comments only", "SELECT 1;\n-- trailing comment\n/* and this */\n", []string{"SELECT 1"}},
		{"empty statements", ";;SELECT 1;;", []string{"SELECT 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitStatements(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"SELECT 'open", "SELECT 1 /* open"} {
		if _, err := SplitStatements(bad); err == nil {
			t.Errorf("SplitStatements(%q) accepted an unterminated quote or comment", bad)
		}
	}
}

var testNow = time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC)

func TestEmbeddedQueries(t *testing.T) {
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
		params := map[string]string{}
		for _, p := range q.Params {
			if p.Required() {
				params[p.Name] = "x"
			}
		}
		sql, err := q.Render(params, testNow)
		if err != nil {
			t.Errorf("%s: %v", q.Name, err)
			continue
		}
		if strings.ContainsAny(sql, "{}") || strings.HasPrefix(sql, "--") || strings.HasSuffix(sql, ";") {
			t.Errorf("%s: rendered query %q keeps placeholders, header or semicolon", q.Name, sql)
		}
	}
	want := []string{"accounts_under_attack", "address_timeline", "decisions_over_time", "impossible_travel_cases", "new_device_then_mfa_failed",
		"open_challenges", "rule_hit_rates", "rule_precision", "top_attacking_ips", "top_attacking_networks", "user_timeline"}
	if !slices.Equal(names, want) {
		t.Errorf("queries %v, want %v", names, want)
	}
	if _, err := LookupQuery("nope"); err == nil || !strings.Contains(err.Error(), "top_attacking_ips") {
		t.Errorf("LookupQuery(nope) = %v, want an error listing the queries", err)
	}
}

func TestRender(t *testing.T) {
	q, err := parseQuery("t", `-- A test query.
-- @param user String - the account
-- @param from DateTime -24h start
-- @param n UInt32 10 rows
-- @param speed Float64 900 km/h
-- @param tenant String '' the account's tenant
SELECT * FROM login_events WHERE tenant_id = {tenant:String} AND user_id = {user:String} AND occurred_at >= {from:DateTime} AND x > {speed:Float64} LIMIT {n:UInt32};
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		params  map[string]string
		want    string // substring of the rendered query
		wantErr string
	}{
		{"defaults", map[string]string{"user": "alice"}, "user_id = 'alice' AND occurred_at >= toDateTime(1772368200, 'UTC') AND x > toFloat64(900) LIMIT 10", ""},
		{"empty default", map[string]string{"user": "alice"}, "tenant_id = '' AND user_id = 'alice'", ""},
		{"tenant given", map[string]string{"user": "alice", "tenant": "acme"}, "tenant_id = 'acme' AND user_id = 'alice'", ""},
		{"injection is quoted", map[string]string{"user": `a' OR 1=1 --\`}, `user_id = 'a\' OR 1=1 --\\'`, ""},
		{"absolute time", map[string]string{"user": "a", "from": "2026-03-01"}, "toDateTime(1772323200, 'UTC')", ""},
		{"rfc3339 time", map[string]string{"user": "a", "from": "2026-03-01T01:00:00+01:00"}, "toDateTime(1772323200, 'UTC')", ""},
		{"relative days", map[string]string{"user": "a", "from": "-1d"}, "toDateTime(1772368200, 'UTC')", ""},
		{"missing required", map[string]string{}, "", "user (String) is required"},
		{"unknown parameter", map[string]string{"user": "a", "usr": "b"}, "", `no parameter "usr"`},
		{"bad number", map[string]string{"user": "a", "n": "10; DROP TABLE x"}, "", "not a valid UInt32"},
		{"negative unsigned", map[string]string{"user": "a", "n": "-1"}, "", "not a valid UInt32"},
		{"beyond UInt32", map[string]string{"user": "a", "n": "4294967296"}, "", "not a valid UInt32"},
		{"largest UInt32", map[string]string{"user": "a", "n": "4294967295"}, "LIMIT 4294967295", ""},
		{"nan", map[string]string{"user": "a", "speed": "NaN"}, "", "not a valid Float64"},
		{"bad time", map[string]string{"user": "a", "from": "yesterday"}, "", "not a valid DateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.Render(tt.params, testNow)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("rendered %q\nwant it to contain %q", got, tt.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"undeclared placeholder", "-- d\nSELECT {x:UInt32}", "no @param line"},
		{"type mismatch", "-- d\n-- @param x UInt64 1 x\nSELECT {x:UInt32}", "does not match"},
		{"unused parameter", "-- d\n-- @param x UInt64 1 x\nSELECT 1", "not used"},
		{"bad default", "-- d\n-- @param x UInt64 many x\nSELECT {x:UInt64}", "default of parameter x"},
		{"unknown type", "-- d\n-- @param x Decimal 1 x\nSELECT {x:Decimal}", "not one of"},
		{"no description", "-- @param x UInt64 1 x\nSELECT {x:UInt64}", "description"},
		{"two statements", "-- d\nSELECT 1; SELECT 2", "exactly one"},
		{"bad param line", "-- d\n-- @param x\nSELECT 1", "bad parameter line"},
		{"empty default of a number", "-- d\n-- @param x UInt64 '' x\nSELECT {x:UInt64}", "needs type String"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseQuery("t", tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestQuoteString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":    "'plain'",
		"it's":     `'it\'s'`,
		`back\sl`:  `'back\\sl'`,
		"nul\x00x": `'nul\0x'`,
		"":         "''",
	} {
		if got := QuoteString(in); got != want {
			t.Errorf("QuoteString(%q) = %s, want %s", in, got, want)
		}
	}
}
