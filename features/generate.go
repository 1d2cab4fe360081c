package features

// The test GeoIP databases and the feature catalogue are generated; run
// go generate ./features after editing testdata/geoip/networks.yaml or the
// tags of schemas.Features.
//go:generate go run ./mmdbgen -in ../testdata/geoip/networks.yaml -out ../testdata/geoip
//go:generate sh -c "go run ./cataloguegen > ../docs/features.md"
