package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestStateMetricsOnTheEndpoint: the state's key counts, caps, evictions
// and refusals reach GET /metrics of the HTTP API that serve starts, and
// the caps come from the state section of the configuration.
func TestStateMetricsOnTheEndpoint(t *testing.T) {
	cfg := defaultConfig()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.State.MaxUsers = 256 // one user a shard
	c := offlineCore(t, cfg)
	// 3,000 users failing at once: each shard holds one, the others are
	// refused (their failures protect the one held).
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 3000 {
		ev := schemas.LoginEvent{UserID: fmt.Sprintf("u%d", i), OccurredAt: at, Addr: netip.MustParseAddr("192.0.2.1"), Outcome: schemas.OutcomeFailure}
		var f schemas.Features
		c.store.Observe(&ev, &f)
	}
	st := c.store.Stats()
	if st.Keys[state.Users] > 256 || st.Refused[state.Users] == 0 {
		t.Fatalf("store stats %+v: want at most 256 users and refusals", st)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	const token = "state-metrics-test-token"
	srv, err := startHTTP(ctx, cfg, c, nil, nil, testLogger(io.Discard), &stderr, token)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown()
	addr := regexp.MustCompile(`API on (http://\S+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no address in %q", stderr.String())
	}
	_, body := httpGet(t, addr[1]+"/metrics", token) // /metrics needs the read role
	for _, want := range []string{
		`loginrisk_state_keys{kind="user"} ` + strconv.FormatInt(st.Keys[state.Users], 10),
		`loginrisk_state_keys{kind="address"} 1`,
		`loginrisk_state_keys_limit{kind="user"} 256`,
		`loginrisk_state_keys_limit{kind="network"} 1e+06`,
		`loginrisk_state_refused_total{kind="user"} ` + strconv.FormatInt(st.Refused[state.Users], 10),
		`loginrisk_state_evictions_total{kind="device"} 0`,
		`loginrisk_state_profiles 0`,
		`loginrisk_state_crowd_keys ` + strconv.FormatInt(st.Crowds, 10), // the address and its /24
		`loginrisk_state_crowd_evicted_total 0`,
		`loginrisk_state_crowd_refused_total 0`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestStateCaps: the state caps default to the features defaults, are read
// from the file and from LOGINRISK_STATE_*, and values out of range are
// refused naming the key.
func TestStateCaps(t *testing.T) {
	if got, want := loadYAML(t, "").State.storeConfig(), defaultConfig().State.storeConfig(); got != want || got.MaxUsers != 1_000_000 {
		t.Errorf("default caps %+v, want %+v", got, want)
	}
	st := loadYAML(t, "state:\n  max_users: 5000\n  max_devices: 7000\n").State
	if st.MaxUsers != 5000 || st.MaxDevices != 7000 || st.MaxAddresses != 1_000_000 {
		t.Errorf("caps from the file: %+v", st)
	}
	networks := setting{"state.max_networks", "LOGINRISK_STATE_MAX_NETWORKS", func(c Config) int { return c.State.MaxNetworks }}
	networks.checkFileThenEnv(t, 5000, 9000)
	addresses := setting{"state.max_addresses", "LOGINRISK_STATE_MAX_ADDRESSES", func(c Config) int { return c.State.MaxAddresses }}
	addresses.checkRefused(t, "must be between 256", "0", "100", "2000000000")
}
