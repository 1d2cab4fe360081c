// Command cataloguegen prints the feature catalogue (docs/features.md)
// generated from the struct tags of schemas.Features:
//
//	go run ./schemas/cataloguegen > docs/features.md
package main

import (
	"fmt"
	"os"

	"github.com/loginrisk/loginrisk/schemas"
)

func main() {
	doc, err := schemas.FeatureDoc()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cataloguegen:", err)
		os.Exit(1)
	}
	fmt.Print(doc)
}
