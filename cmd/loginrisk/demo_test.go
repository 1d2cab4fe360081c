package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// make demo writes history to a ClickHouse on this machine when there is
// one, and says plainly when there is none.
func TestFindDemoClickHouse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listening := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	defer ln.Close()

	t.Run("found", func(t *testing.T) {
		t.Setenv("CLICKHOUSE_DSN", "clickhouse://"+listening+"/default")
		var out bytes.Buffer
		got := findDemoClickHouse(context.Background(), &out)
		if want := "clickhouse://" + listening + "/" + demoClickHouseDatabase; got != want {
			t.Errorf("dsn = %q, want %q", got, want)
		}
		if !strings.Contains(out.String(), "ClickHouse found on "+listening) {
			t.Errorf("message = %q", out.String())
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv("CLICKHOUSE_DSN", "clickhouse://"+refused+"/default")
		var out bytes.Buffer
		if got := findDemoClickHouse(context.Background(), &out); got != "" {
			t.Errorf("dsn = %q with nothing listening", got)
		}
		if msg := out.String(); !strings.Contains(msg, "no ClickHouse on "+refused) || !strings.Contains(msg, "history is off") {
			t.Errorf("message = %q, want it to say plainly there is no ClickHouse", msg)
		}
	})
}
