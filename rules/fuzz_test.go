package rules

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/loginrisk/loginrisk/schemas"
)

// FuzzCompile feeds arbitrary text to the loader as a rule file and to the
// compiler as a `when` expression. Either may fail, but neither may panic,
// and what compiles must evaluate, promptly, on the zero feature vector and
// on random ones, with the lowered closures agreeing with expr's VM.
//
// Seeds: the shipped rules, every rule file under testdata/, and the
// corpus of TestLoweringMatchesVM.
func FuzzCompile(f *testing.F) {
	for _, fsys := range []fs.FS{DefaultFS(), os.DirFS("testdata")} {
		_ = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isRuleFile(d.Name()) {
				if data, err := fs.ReadFile(fsys, path); err == nil {
					f.Add(string(data))
				}
			}
			return nil
		})
	}
	for _, c := range loweringCorpus {
		f.Add(c.when)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	samples := []*schemas.Features{{}}
	for range 16 {
		samples = append(samples, randomFeatures(rng))
	}
	f.Fuzz(func(t *testing.T, text string) {
		withinDeadline(t, func() {
			if set, err := LoadFS(fstest.MapFS{"rules.yaml": {Data: []byte(text)}}, "."); err == nil {
				var res Result
				for _, s := range samples {
					set.Evaluate(s, invalidAddr, &res)
					if res.Score < 0 || res.Score > 100 {
						t.Errorf("score %d out of 0..100", res.Score)
						return
					}
				}
			}
			c, err := compileWhen(text)
			if err != nil {
				if _, ok := err.(*exprError); !ok {
					t.Errorf("compileWhen error %T %v, want *exprError", err, err)
				}
				return
			}
			var machine vm.VM
			for i, s := range samples {
				out, err := machine.Run(c.program, s)
				if c.fast == nil || err != nil {
					continue
				}
				if got := c.fast(s); got != out.(bool) {
					t.Errorf("%q on sample %d: lowered %v, VM %v", text, i, got, out)
					return
				}
			}
		})
	})
}

// withinDeadline runs fn (which reports with t.Errorf: it runs on another
// goroutine) and fails the test if it takes more than ten seconds: a rule
// set must never hang the loader or an evaluation.
func withinDeadline(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("loading or evaluating took more than 10 s")
	}
}
