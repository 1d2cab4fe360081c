package schemas

// The feature catalogue docs/features.md is generated from the struct tags
// of Features; run go generate ./schemas after editing them.
//go:generate sh -c "go run ./cataloguegen > ../docs/features.md"
