package features

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/loginrisk/loginrisk/schemas"
)

// catalogueSections title the groups of schemas.Features, each starting at
// the named feature; a feature added to a group falls in it.
var catalogueSections = []struct{ first, title string }{
	{"user_id", "The attempt"},
	{"geo_known", "GeoIP City"},
	{"asn_known", "GeoIP ASN"},
	{"anon_known", "GeoIP Anonymous-IP"},
	{"browser", "Device"},
	{"user_failures_1m", "Per user"},
	{"ip_failures_1m", "Per IP (IPv6 grouped by /64)"},
	{"device_distinct_users_24h", "Per device key"},
}

// CatalogueFeature is one feature of the catalogue, from the struct tags
// of its schemas.Features field.
type CatalogueFeature struct {
	Field string // Go field name
	Name  string // expr tag: the name rules use
	Type  string // string, bool, int or float
	Unit  string
	Doc   string
}

// CatalogueFeatures lists the features of schemas.Features in field order,
// with an error naming every field without an expr or doc tag.
func CatalogueFeatures() ([]CatalogueFeature, error) {
	var out []CatalogueFeature
	var missing []string
	for f := range reflect.TypeFor[schemas.Features]().Fields() {
		cf := CatalogueFeature{
			Field: f.Name,
			Name:  f.Tag.Get("expr"),
			Unit:  f.Tag.Get("unit"),
			Doc:   f.Tag.Get("doc"),
		}
		switch f.Type.Kind() {
		case reflect.Float32, reflect.Float64:
			cf.Type = "float"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			cf.Type = "int"
		default:
			cf.Type = f.Type.Kind().String()
		}
		if cf.Name == "" || cf.Doc == "" {
			missing = append(missing, f.Name)
		}
		out = append(out, cf)
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("schemas.Features fields without an expr or doc tag: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Catalogue renders docs/features.md: every feature rules can use, by
// group, with its type, unit and meaning, from the struct tags of
// schemas.Features.
func Catalogue() string {
	features, err := CatalogueFeatures()
	var b strings.Builder
	b.WriteString(`# Feature catalogue

<!-- Generated from the expr, unit and doc tags of schemas.Features by
features.Catalogue; do not edit. Regenerate with
go run ./features/cataloguegen > docs/features.md -->

Rules are expressions over these names (github.com/expr-lang/expr, compiled
against ` + "`schemas.Features`" + `). Window counts include the attempt being
scored; ` + "`new_*`" + ` flags compare with what was known before it and are false
for a user without a previous success. A feature whose source is not
configured (no GeoIP database) keeps its zero value and its ` + "`*_known`" + ` flag
is false. Windows use event time (` + "`occurred_at`" + `), never the wall clock.
How the windows are kept, and how exact they are, is in the documentation of
package features; performance figures are in features-performance.md.

Address and network features, and ip and user_ip locks, key an address
by the IPv4 address it carries when it is IPv4-mapped (` + "`::ffff:0:0/96`" + `),
NAT64 (` + "`64:ff9b::/96`" + `, the last 32 bits), 6to4 (` + "`2002::/16`" + `, bits 16-47)
or Teredo (` + "`2001::/32`" + `, the last 32 bits inverted): IPv4 clients behind
one NAT64 gateway or Teredo server are separate sources, not one /64. The
local-use NAT64 prefix ` + "`64:ff9b:1::/48`" + ` is kept as IPv6, because where
its IPv4 address sits depends on the operator's prefix length. Other IPv6
addresses are grouped by their /64. The ` + "`ip`" + ` feature is the address as sent.
`)
	if err != nil {
		fmt.Fprintf(&b, "\n**Incomplete: %v**\n", err)
	}
	section := 0
	for _, f := range features {
		if section < len(catalogueSections) && f.Name == catalogueSections[section].first {
			fmt.Fprintf(&b, "\n## %s\n\n| feature | type | unit | meaning |\n| --- | --- | --- | --- |\n", catalogueSections[section].title)
			section++
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, f.Type, f.Unit, strings.ReplaceAll(f.Doc, "|", `\|`))
	}
	return b.String()
}
