package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLayoutNamesEveryPackage: the README's layout list names every
// Go package of the module but internal ones, so that a package added or
// moved without a line there fails here rather than leaving a newcomer's
// map wrong. A package is a folder holding a .go file; testdata and
// internal folders are passed over.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\nLayout ")
	if start < 0 {
		t.Fatal("README.md has no paragraph starting with \"Layout \"")
	}
	layout := text[start:]
	if end := strings.Index(layout, "\n## "); end >= 0 {
		layout = layout[:end]
	}
	packages := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (name == "testdata" || name == "internal" || strings.HasPrefix(name, ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			packages[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(packages) < 10 {
		t.Fatalf("found only %d packages under %s: the walk is wrong", len(packages), root)
	}
	for pkg := range packages {
		if !strings.Contains(layout, "`"+pkg+"`") {
			t.Errorf("README.md's layout does not name package `%s`", pkg)
		}
	}
}
