// Command mmdbgen writes loginrisk's test GeoIP databases from the invented
// networks of testdata/geoip/networks.yaml:
//
//	City-Test.mmdb          database type GeoIP2-City
//	ASN-Test.mmdb           database type GeoLite2-ASN
//	Anonymous-IP-Test.mmdb  database type GeoIP2-Anonymous-IP
//
// in the GeoIP2 record layouts, so geoip2-golang and every other GeoIP2
// reader read them like MaxMind's files. The output is reproducible: the
// build time comes from the source file (mmdbwriter's BuildEpoch option)
// and mmdbwriter writes map keys in sorted order, so two runs give
// byte-identical files.
//
// Usage, from the repository root:
//
//	go run ./features/mmdbgen [-in testdata/geoip/networks.yaml] [-out testdata/geoip]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/loginrisk/loginrisk/features/internal/netdata"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The files written, with their database types.
const (
	cityFile = "City-Test.mmdb"
	asnFile  = "ASN-Test.mmdb"
	anonFile = "Anonymous-IP-Test.mmdb"
)

func main() {
	in := flag.String("in", filepath.Join("testdata", "geoip", "networks.yaml"), "source `file`")
	out := flag.String("out", filepath.Join("testdata", "geoip"), "output `directory`")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mmdbgen:", err)
		os.Exit(1)
	}
}

func run(in, outDir string) error {
	src, err := netdata.Load(in)
	if err != nil {
		return err
	}
	files, err := build(src)
	if err != nil {
		return err
	}
	for _, name := range []string{cityFile, asnFile, anonFile} {
		if err := os.WriteFile(filepath.Join(outDir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// build returns the bytes of the three databases, by file name.
func build(src *netdata.File) (map[string][]byte, error) {
	dbs := []struct {
		file, dbType string
		record       func(n netdata.Network) (mmdbtype.Map, bool)
	}{
		{cityFile, "GeoIP2-City", func(n netdata.Network) (mmdbtype.Map, bool) {
			if n.Location == "" {
				return nil, false
			}
			return cityRecord(src, src.Locations[n.Location]), true
		}},
		{asnFile, "GeoLite2-ASN", func(n netdata.Network) (mmdbtype.Map, bool) {
			if n.ASN == 0 {
				return nil, false
			}
			return mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
				"autonomous_system_organization": mmdbtype.String(src.ASNs[n.ASN]),
			}, true
		}},
		{anonFile, "GeoIP2-Anonymous-IP", func(n netdata.Network) (mmdbtype.Map, bool) {
			if len(n.Anonymous) == 0 {
				return nil, false
			}
			rec := mmdbtype.Map{"is_anonymous": mmdbtype.Bool(true)}
			for _, flag := range n.Anonymous {
				rec[mmdbtype.String("is_"+flag)] = mmdbtype.Bool(true)
			}
			return rec, true
		}},
	}
	networks := src.SortedNetworks()
	out := make(map[string][]byte, len(dbs))
	for _, db := range dbs {
		tree, err := mmdbwriter.New(mmdbwriter.Options{
			BuildEpoch:   src.BuildEpoch,
			DatabaseType: db.dbType,
			Description:  map[string]string{"en": "loginrisk test database generated from testdata/geoip/networks.yaml; invented data, not for production"},
			Languages:    []string{"en"},
			RecordSize:   24,
			IPVersion:    6,
		})
		if err != nil {
			return nil, err
		}
		for _, n := range networks {
			rec, ok := db.record(n)
			if !ok {
				continue
			}
			ipnet := &net.IPNet{IP: n.CIDR.Addr().AsSlice(), Mask: net.CIDRMask(n.CIDR.Bits(), n.CIDR.Addr().BitLen())}
			if err := tree.Insert(ipnet, rec); err != nil {
				return nil, fmt.Errorf("%s: inserting %s (%s): %w", db.file, n.CIDR, n.Label, err)
			}
		}
		var buf bytes.Buffer
		if _, err := tree.WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("%s: %w", db.file, err)
		}
		out[db.file] = buf.Bytes()
	}
	return out, nil
}

// cityRecord is a GeoIP2 City record: city, continent, country,
// registered_country, location and subdivisions.
func cityRecord(src *netdata.File, l netdata.Location) mmdbtype.Map {
	names := func(s string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(s)} }
	c := src.Countries[l.Country]
	country := mmdbtype.Map{
		"iso_code": mmdbtype.String(l.Country),
		"names":    names(c.Name),
	}
	if c.EU {
		country["is_in_european_union"] = mmdbtype.Bool(true)
	}
	rec := mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String(c.Continent)},
		"country":            country,
		"registered_country": country,
		"location": mmdbtype.Map{
			"latitude":        mmdbtype.Float64(l.Latitude),
			"longitude":       mmdbtype.Float64(l.Longitude),
			"accuracy_radius": mmdbtype.Uint16(l.AccuracyRadius),
			"time_zone":       mmdbtype.String(l.TimeZone),
		},
	}
	if l.City != "" {
		rec["city"] = mmdbtype.Map{"names": names(l.City)}
	}
	if l.Subdivision != "" {
		rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{
			"iso_code": mmdbtype.String(l.Subdivision),
			"names":    names(l.SubdivisionName),
		}}
	}
	return rec
}
