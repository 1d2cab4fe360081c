package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
)

// cmdEval scores labelled events the way replay does, beside a
// fail2ban-style baseline, and prints what each did to every attack and
// every kind of genuine login (docs/detection.md). With --generate it
// writes the labelled scenario traffic instead.
func cmdEval(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("eval", stderr)
	events := fs.eventsFlag(false)
	labelsPath := fs.String("labels", "", "NDJSON `file` of labels: event_id, kind, campaign, attack")
	generate := fs.String("generate", "", "write the labelled scenarios to `DIR` ("+eval.EventsFile+", "+eval.LabelsFile+") and exit")
	seed := fs.Uint64("seed", 1, "with --generate: the scenarios' random seed")
	scale := fs.Float64("scale", 1, "with --generate: multiply every population and campaign count")
	passwordFP := fs.Bool("password-fp", false, "with --generate: every password check carries a password_fp, as from a gateway that computes one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *generate != "" {
		n, err := eval.Generate(*generate, loadgen.LabelledConfig{Seed: *seed, Scale: *scale, PasswordFP: *passwordFP})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %d events to %s and their labels to %s\n", n,
			filepath.Join(*generate, eval.EventsFile), filepath.Join(*generate, eval.LabelsFile))
		return nil
	}
	if *events == "" || *labelsPath == "" {
		return fs.usageError("--events and --labels are required (or --generate DIR)")
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	cfg.GeoIP = cfg.GeoIP.orTestDatabases()
	labels, err := readLabelsFile(*labelsPath)
	if err != nil {
		return err
	}
	in, closeIn, err := openInput(*events, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	c, err := buildOffline(cfg, newLogger(stderr, fs.quietLog(cfg.Log)))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stderr, "eval: rules %s, GeoIP %s\n", c.engine.RulesVersion(), cfg.GeoIP.describe())
	src := offline.NewNDJSON(in, stderr)
	report, err := eval.Run(ctx, src, c.lane(), labels)
	if err != nil {
		return err
	}
	if src.Invalid > 0 {
		fmt.Fprintf(stderr, "eval: %d invalid lines skipped\n", src.Invalid)
	}
	return report.Write(stdout)
}

// readLabelsFile reads a labels file, naming it in errors.
func readLabelsFile(path string) (eval.Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	labels, err := eval.ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return labels, nil
}
