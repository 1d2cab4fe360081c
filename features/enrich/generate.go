package enrich

// The test GeoIP databases are generated; run go generate ./features/enrich after
// editing testdata/geoip/networks.yaml.
//go:generate go run ../mmdbgen -in ../../testdata/geoip/networks.yaml -out ../../testdata/geoip
