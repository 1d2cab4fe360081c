package schemas

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/features.md from the tags of Features")

var featureDocPath = filepath.Join("..", "docs", "features.md")

func TestFeatureDocIsCurrent(t *testing.T) {
	want, err := FeatureDoc()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(featureDocPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(featureDocPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: run go test ./schemas -run TestFeatureDocIsCurrent -update (or go generate ./schemas)", featureDocPath)
	}
}

// TestFeatureCatalogue: the tags of Features are complete, and the
// catalogue says what the fields are.
func TestFeatureCatalogue(t *testing.T) {
	features, err := FeatureCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[Features]()
	if len(features) != typ.NumField() {
		t.Fatalf("%d features for %d fields", len(features), typ.NumField())
	}
	for i, f := range features {
		sf := typ.Field(i)
		if f.Field != sf.Name || f.Index != i || f.Offset != sf.Offset || f.Kind != sf.Type.Kind() || f.Name != sf.Tag.Get("expr") {
			t.Errorf("feature %d is %+v, field %s", i, f, sf.Name)
		}
	}
	// A caller's copy is its own.
	features[0].Name = "changed"
	if again, _ := FeatureCatalogue(); again[0].Name == "changed" {
		t.Error("FeatureCatalogue returns the shared table")
	}
}

// TestFeatureCatalogueRejectsBadTags builds catalogues of structs that
// break each rule.
func TestFeatureCatalogueRejectsBadTags(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
	}{
		{"no expr", reflect.TypeFor[struct {
			A int `group:"g" doc:"d"`
		}]()},
		{"not snake_case", reflect.TypeFor[struct {
			A int `expr:"userFailures" group:"g" doc:"d"`
		}]()},
		{"no doc", reflect.TypeFor[struct {
			A int `expr:"a" group:"g"`
		}]()},
		{"no group", reflect.TypeFor[struct {
			A int `expr:"a" doc:"d"`
		}]()},
		{"duplicate name", reflect.TypeFor[struct {
			A int `expr:"a" group:"g" doc:"d"`
			B int `expr:"a" column:"b" doc:"d"`
		}]()},
		{"duplicate column", reflect.TypeFor[struct {
			A int `expr:"a" group:"g" doc:"d"`
			B int `expr:"b" column:"a" doc:"d"`
		}]()},
		{"unsupported kind", reflect.TypeFor[struct {
			A time.Duration `expr:"a" group:"g" doc:"d"`
		}]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := buildCatalogue(tt.typ)
			if !errors.Is(err, ErrFeatureTags) {
				t.Fatalf("err = %v, want ErrFeatureTags", err)
			}
			t.Log(err)
		})
	}
	ok := reflect.TypeFor[struct {
		A int     `expr:"a" unit:"count" group:"g" doc:"d"`
		B bool    `expr:"b" column:"-" doc:"d"`
		C float64 `expr:"c" column:"c_stored" group:"h" doc:"d"`
	}]()
	got, err := buildCatalogue(ok)
	if err != nil {
		t.Fatal(err)
	}
	want := []Feature{
		{Name: "a", Field: "A", Kind: reflect.Int, Type: "int", Unit: "count", Group: "g", Doc: "d", Column: "a", ColumnType: "UInt32", Index: 0, Offset: ok.Field(0).Offset},
		{Name: "b", Field: "B", Kind: reflect.Bool, Type: "bool", Group: "g", Doc: "d", ColumnType: "UInt8", Index: 1, Offset: ok.Field(1).Offset},
		{Name: "c", Field: "C", Kind: reflect.Float64, Type: "float", Group: "h", Doc: "d", Column: "c_stored", ColumnType: "Float64", Index: 2, Offset: ok.Field(2).Offset},
	}
	if !slices.Equal(got, want) {
		t.Errorf("catalogue\n got %+v\nwant %+v", got, want)
	}
}

// TestSetEventFeatures: the features tagged column:"-" are exactly those
// SetEventFeatures fills, since the history restores them with it.
func TestSetEventFeatures(t *testing.T) {
	features, err := FeatureCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	filled := map[string]bool{}
	for _, outcome := range []Outcome{OutcomeSuccess, OutcomeFailure} {
		ev := &LoginEvent{EventID: "e1", OccurredAt: time.Date(2026, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600)),
			UserID: "alice", Outcome: outcome, IP: "192.0.2.1", UserAgent: "curl/8", DeviceID: "d1",
			FailureReason: "bad_password", AuthMethod: "password", TenantID: "t1"}
		var f Features
		f.SetEventFeatures(ev)
		if f.HourUTC != 9 {
			t.Errorf("hour_utc = %d for 10:30 CET, want 9", f.HourUTC)
		}
		v := reflect.ValueOf(f)
		for _, feat := range features {
			if !v.Field(feat.Index).IsZero() {
				filled[feat.Name] = true
			}
		}
	}
	for _, f := range features {
		if fromEvent := f.Column == ""; filled[f.Name] != fromEvent {
			t.Errorf("%s: set from the event %v, tagged column:\"-\" %v", f.Name, filled[f.Name], fromEvent)
		}
	}
}
