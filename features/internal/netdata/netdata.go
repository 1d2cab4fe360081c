// Package netdata reads testdata/geoip/networks.yaml, the invented networks
// from which features/mmdbgen writes the test GeoIP databases, and answers
// what those databases should say about an address. The generator and the
// enrichment tests share it, so the expectations of the tests come from the
// same file as the databases.
package netdata

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// anonymousFlags lists the Anonymous-IP flags a network may carry, without
// the "is_" prefix of their GeoIP2 record keys.
var anonymousFlags = []string{"anonymous_vpn", "hosting_provider", "public_proxy", "tor_exit_node", "residential_proxy"}

// File is the whole source file.
type File struct {
	BuildEpoch int64               `yaml:"build_epoch"`
	Countries  map[string]Country  `yaml:"countries"`
	Locations  map[string]Location `yaml:"locations"`
	ASNs       map[uint32]string   `yaml:"asns"`
	Networks   []Network           `yaml:"networks"`
}

// Country is a country record.
type Country struct {
	Name      string `yaml:"name"`
	Continent string `yaml:"continent"`
	EU        bool   `yaml:"eu"`
}

// Location is the place part of a City record. City is empty for a
// country-level record.
type Location struct {
	Country         string  `yaml:"country"`
	Subdivision     string  `yaml:"subdivision"`
	SubdivisionName string  `yaml:"subdivision_name"`
	City            string  `yaml:"city"`
	Latitude        float64 `yaml:"latitude"`
	Longitude       float64 `yaml:"longitude"`
	AccuracyRadius  uint16  `yaml:"accuracy_radius"`
	TimeZone        string  `yaml:"time_zone"`
}

// Network is one CIDR and what the databases say about it. Location and
// ASN may be empty (the network is then not written to that database).
type Network struct {
	Label     string       `yaml:"label"`
	CIDR      netip.Prefix `yaml:"cidr"`
	Location  string       `yaml:"location"`
	ASN       uint32       `yaml:"asn"`
	Anonymous []string     `yaml:"anonymous"`
	Sample    netip.Addr   `yaml:"sample"`
}

// Load reads and validates a source file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates the YAML text of a source file. Unknown keys
// are errors, so a typo does not silently drop data.
func Parse(data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) validate() error {
	var errs []error
	if f.BuildEpoch <= 0 {
		errs = append(errs, errors.New("build_epoch must be a positive Unix time"))
	}
	for id, l := range f.Locations {
		if _, ok := f.Countries[l.Country]; !ok {
			errs = append(errs, fmt.Errorf("locations.%s: country %q is not in countries", id, l.Country))
		}
		if l.TimeZone == "" {
			errs = append(errs, fmt.Errorf("locations.%s: time_zone is required", id))
		}
		if l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180 {
			errs = append(errs, fmt.Errorf("locations.%s: latitude/longitude out of range", id))
		}
	}
	seen := map[netip.Prefix]bool{}
	for i, n := range f.Networks {
		where := fmt.Sprintf("networks[%d] (%s)", i, n.CIDR)
		switch {
		case !n.CIDR.IsValid():
			errs = append(errs, fmt.Errorf("networks[%d]: cidr is required", i))
			continue
		case n.CIDR != n.CIDR.Masked():
			errs = append(errs, fmt.Errorf("%s: has host bits set, write %s", where, n.CIDR.Masked()))
		case seen[n.CIDR]:
			errs = append(errs, fmt.Errorf("%s: listed twice", where))
		}
		seen[n.CIDR] = true
		if n.Location == "" && n.ASN == 0 && len(n.Anonymous) == 0 {
			errs = append(errs, fmt.Errorf("%s: has no location, asn or anonymous flags", where))
		}
		if _, ok := f.Locations[n.Location]; n.Location != "" && !ok {
			errs = append(errs, fmt.Errorf("%s: location %q is not in locations", where, n.Location))
		}
		if _, ok := f.ASNs[n.ASN]; n.ASN != 0 && !ok {
			errs = append(errs, fmt.Errorf("%s: asn %d is not in asns", where, n.ASN))
		}
		for _, flag := range n.Anonymous {
			if !slices.Contains(anonymousFlags, flag) {
				errs = append(errs, fmt.Errorf("%s: anonymous flag %q is not one of %s", where, flag, strings.Join(anonymousFlags, ", ")))
			}
		}
		if !n.Sample.IsValid() || !n.CIDR.Contains(n.Sample) {
			errs = append(errs, fmt.Errorf("%s: sample %s is not inside the network", where, n.Sample))
		}
	}
	return errors.Join(errs...)
}

// SortedNetworks returns the networks widest first, then by address: the
// order in which writing them lets a more specific network override a wider
// one, independent of the order of the file.
func (f *File) SortedNetworks() []Network {
	out := slices.Clone(f.Networks)
	slices.SortStableFunc(out, func(a, b Network) int {
		if a.CIDR.Bits() != b.CIDR.Bits() {
			return a.CIDR.Bits() - b.CIDR.Bits()
		}
		return a.CIDR.Addr().Compare(b.CIDR.Addr())
	})
	return out
}

// Expected is what the three databases should answer for an address.
// Location is nil when the City database has no record for it, ASN is 0
// when the ASN database has none, and Anonymous lists the flags set.
type Expected struct {
	Location  *Location
	ASN       uint32
	ASOrg     string
	Anonymous []string
}

// Resolve answers, for addr, what the generated databases should say: the
// most specific network with a location gives the City record, the most
// specific with an ASN the ASN record, and the most specific with flags the
// Anonymous-IP record.
func (f *File) Resolve(addr netip.Addr) Expected {
	var out Expected
	locBits, asnBits, anonBits := -1, -1, -1
	for _, n := range f.Networks {
		if !n.CIDR.Contains(addr) {
			continue
		}
		bits := n.CIDR.Bits()
		if n.Location != "" && bits > locBits {
			l := f.Locations[n.Location]
			out.Location, locBits = &l, bits
		}
		if n.ASN != 0 && bits > asnBits {
			out.ASN, out.ASOrg, asnBits = n.ASN, f.ASNs[n.ASN], bits
		}
		if len(n.Anonymous) > 0 && bits > anonBits {
			out.Anonymous, anonBits = n.Anonymous, bits
		}
	}
	return out
}
