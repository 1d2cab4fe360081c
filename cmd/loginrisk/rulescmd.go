package main

import (
	"context"
	"fmt"
	"io"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/rules"
)

// cmdRules is `rules check DIR` (compile every file, print every error) and
// `rules test DIR` (run the test cases in DIR/tests).
func cmdRules(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "test") {
		fmt.Fprintln(stderr, "usage: loginrisk rules check DIR | loginrisk rules test DIR [--geoip-city F ...]")
		return exitCode(2)
	}
	verb := args[0]
	fs := newCommand("rules "+verb, stderr)
	var dir string
	rest := args[1:]
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		dir, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" {
		fmt.Fprintf(stderr, "loginrisk rules %s: a rules folder is required\n", verb)
		return exitCode(2)
	}
	set, err := rules.Load(dir)
	if err != nil {
		var n int
		for _, e := range unwrapAll(err) {
			fmt.Fprintln(stderr, e)
			n++
		}
		fmt.Fprintf(stderr, "%s: %d error(s)\n", dir, n)
		return exitCode(1)
	}
	if verb == "check" {
		fmt.Fprintf(stdout, "%s: %d rules OK (version %s)\n", dir, len(set.Rules()), set.Version())
		return nil
	}
	cases, err := rules.LoadTests(dir)
	if err != nil {
		for _, e := range unwrapAll(err) {
			fmt.Fprintln(stderr, e)
		}
		return exitCode(1)
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	geo := cfg.GeoIP.orTestDatabases()
	enricher, err := enrich.NewEnricher(geo.EnricherConfig)
	if err != nil {
		return err
	}
	defer enricher.Close()
	failed := 0
	for _, tc := range cases {
		if err := engine.RunRuleTest(set, tc, enricher); err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %v\n", err)
			continue
		}
		fmt.Fprintf(stdout, "ok   %s:%d: %s\n", tc.File, tc.Line, tc.Name)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", len(cases)-failed, failed)
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// unwrapAll flattens errors.Join trees into their leaves.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}
