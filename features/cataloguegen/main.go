// Command cataloguegen prints the feature catalogue (docs/features.md)
// generated from the struct tags of schemas.Features:
//
//	go run ./features/cataloguegen > docs/features.md
package main

import (
	"fmt"
	"os"

	"github.com/loginrisk/loginrisk/features"
)

func main() {
	if _, err := features.CatalogueFeatures(); err != nil {
		fmt.Fprintln(os.Stderr, "cataloguegen:", err)
		os.Exit(1)
	}
	fmt.Print(features.Catalogue())
}
