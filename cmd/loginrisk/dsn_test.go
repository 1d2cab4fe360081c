package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDSNNeverPrintsItsPassword: the ClickHouse DSN, alone or in the
// configuration, shows its password (in the user info or the password
// parameter) as [redacted] however it is formatted, encoded or logged;
// and so does a Secret in the configuration.
func TestDSNNeverPrintsItsPassword(t *testing.T) {
	const password = "dsn-pass-3e8a1f6c"
	for _, dsn := range []DSN{
		DSN("clickhouse://loginrisk:" + password + "@ch-1:9000/history?secure=true"),
		DSN("clickhouse://ch-1:9000/history?username=loginrisk&password=" + password + "&secure=true"),
	} {
		cfg := defaultConfig()
		cfg.ClickHouse.DSN = dsn
		cfg.Kafka.SASLPassword = Secret(password)
		outputs := map[string]string{}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			outputs[verb+" of the DSN"] = fmt.Sprintf(verb, dsn)
			outputs[verb+" of the configuration"] = fmt.Sprintf(verb, cfg)
			outputs[verb+" of a pointer to the section"] = fmt.Sprintf(verb, &cfg.ClickHouse)
		}
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		outputs["JSON of the configuration"] = string(js)
		ym, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		outputs["YAML of the configuration"] = string(ym)
		for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			"JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("configuration", "dsn", dsn, "clickhouse", cfg.ClickHouse, "config", cfg)
			outputs["slog "+name] = b.String()
		}
		for what, out := range outputs {
			if strings.Contains(out, password) {
				t.Errorf("%s shows the password: %s", what, out)
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("%s does not show that a password is set: %s", what, out)
			}
		}
	}
}

// TestClickHousePasswordNotInAPlainString: a clickhouse.password secret
// stays in its Secret field; no string of the loaded configuration holds
// it (it is joined to the DSN only where a connection is opened), so
// whatever prints the configuration cannot leak it through the DSN.
func TestClickHousePasswordNotInAPlainString(t *testing.T) {
	const password = "ch-pass-0b5d7e9a13"
	cfg := loadYAML(t, fmt.Sprintf("clickhouse:\n  dsn: clickhouse://loginrisk@ch-1:9000/history\n  password: %q\n", password))
	var holders []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case reflect.String:
			if strings.Contains(v.String(), password) {
				holders = append(holders, path)
			}
		}
	}
	walk(reflect.ValueOf(cfg), "Config")
	if want := []string{"Config.ClickHouse.Password"}; !reflect.DeepEqual(holders, want) {
		t.Errorf("the password is held by %v, want only %v", holders, want)
	}
	conn, err := cfg.ClickHouse.connString()
	if err != nil || !strings.Contains(conn, "loginrisk:"+password+"@") {
		t.Errorf("connString = %q, %v; want the password joined to the DSN's user", conn, err)
	}
}
