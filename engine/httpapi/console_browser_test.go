package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// screenshotsEnv names a folder that receives the browser test's
// screenshots besides its artifact folder: docs/console.md's are made
// with it (see there).
const screenshotsEnv = "LOGINRISK_CONSOLE_SCREENSHOTS"

// chromiumPath returns the browser to drive: $LOGINRISK_CHROMIUM (set by
// scripts/test.sh), else chromium on the PATH. Without one the test
// skips, or fails under REQUIRE_SERVICES=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LOGINRISK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testkit.Required() {
		t.Fatal("chromium is missing and REQUIRE_SERVICES=1: install it with scripts/chromium.sh")
	}
	t.Skip("chromium not found; skipping the console's browser test (scripts/chromium.sh installs it)")
	return ""
}

// playTraffic scores demo traffic through the engine: the 15 minutes of
// the feed's window up to testNow, four attempts a second, with a burst of
// attacks (brute force, stuffing, spraying) between minutes 6 and 9.
func (f *fixture) playTraffic() {
	f.t.Helper()
	calm := loadgen.New(loadgen.Config{Users: 400, Seed: 7, AttackShare: 0.04})
	attacks := loadgen.New(loadgen.Config{Users: 400, Seed: 8, AttackShare: 1})
	start := testNow.Add(-engine.FeedWindow + time.Second)
	burstFrom, burstTo := start.Add(6*time.Minute), start.Add(9*time.Minute)
	score := func(ev schemas.LoginEvent) {
		data, err := json.Marshal(&ev)
		if err != nil {
			f.t.Fatal(err)
		}
		var in schemas.LoginEvent
		if err := schemas.Decode(data, &in); err != nil {
			f.t.Fatalf("decoding generated event %s: %v", ev.EventID, err)
		}
		if _, err := f.eng.Score(&in, false); err != nil {
			f.t.Fatalf("scoring %s: %v", ev.EventID, err)
		}
	}
	for at := start; !at.After(testNow); at = at.Add(250 * time.Millisecond) {
		score(calm.Next(at))
		if !at.Before(burstFrom) && at.Before(burstTo) {
			for range 4 {
				score(attacks.Next(at))
			}
		}
	}
}

// browser is a headless chromium on a fresh profile, with every script
// exception and console or browser-log error collected (a CSP violation
// is one).
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		// The machine's network is closed: no call home of any kind.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium refuses to run as root with its sandbox
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser
	done := make(chan struct{})
	t.Cleanup(func() { cancelCtx(); <-done })
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	return b
}

// signIn opens the console of f and signs in with token.
func (b *browser) signIn(t *testing.T, f *fixture, token string) {
	t.Helper()
	b.do(t, "opening the console", chromedp.Navigate(f.ts.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.do(t, "signing in", chromedp.SendKeys(chromedp.CSS("#token"), token+kb.Enter), chromedp.WaitVisible(chromedp.CSS("#nav")))
}

// forget drops the reported errors that contain s: the ones a step
// expects.
func (b *browser) forget(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = slices.DeleteFunc(b.errors, func(e string) bool { return strings.Contains(e, s) })
}

// reported returns the errors the browser reported so far.
func (b *browser) reported() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}

// do runs steps, failing the test with what as context.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v (the browser reported: %q)", what, err, b.reported())
	}
}

// get runs one action and returns its value.
func get[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v (the browser reported: %q)", what, err, b.reported())
	}
	return v
}

// text returns the text of the first node sel matches.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return get(t, b, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// attr returns an attribute of the first node sel matches.
func (b *browser) attr(t *testing.T, sel, name string) string {
	t.Helper()
	v := get(t, b, "reading "+sel+"@"+name, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !v.Exists {
		t.Fatalf("%s has no attribute %s", sel, name)
	}
	return v.Value
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	return get(t, b, "evaluating "+expr, chromedp.Evaluate[T](expr))
}

// screenshots saves PNGs of the page into the test's artifact folder and,
// when $LOGINRISK_CONSOLE_SCREENSHOTS names one, into that folder too.
type screenshots struct {
	dirs []string
}

func newScreenshots(t *testing.T) *screenshots {
	s := &screenshots{dirs: []string{t.ArtifactDir()}}
	if d := os.Getenv(screenshotsEnv); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, d)
	}
	return s
}

func (s *screenshots) take(t *testing.T, b *browser, name string) {
	t.Helper()
	b.do(t, "letting the page settle", chromedp.Sleep(300*time.Millisecond))
	png := get(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	for _, d := range s.dirs {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
}

// cssString quotes s for a CSS attribute selector.
func cssString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// getJSON calls the API with a token and decodes its answer.
func (f *fixture) getJSON(path, token string, out any) {
	f.t.Helper()
	resp := f.do(request{method: "GET", path: path, token: token})
	if resp.code != 200 {
		f.t.Fatalf("GET %s: %d %s", path, resp.code, resp.body)
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
}

// TestConsoleInBrowser drives the console in a real headless chromium over
// demo traffic: it signs in with a token and checks that every view shows
// the API's data (the chart's points, the locks of /v1/locks, a lift that
// removes the lock and is recorded, a user's last decision), and saves a
// screenshot of each view.
func TestConsoleInBrowser(t *testing.T) {
	path := chromiumPath(t)
	f := newFixture(t, fixtureOptions{geoip: true})
	f.playTraffic()
	b := newBrowser(t, path)
	shots := newScreenshots(t)
	// A zone away from UTC shows that times are the viewer's, UTC on hover.
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"}); err != nil {
		t.Fatalf("setting the time zone: %v", err)
	}

	// Sign in: the token goes to session storage, never into the address
	// or a cookie.
	b.do(t, "opening the console", chromedp.Navigate(f.ts.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	shots.take(t, b, "console-login")
	b.signIn(t, f, adminToken)
	if who := b.text(t, "#who-name"); who != "alice · admin" {
		t.Errorf("signed in as %q, want alice · admin", who)
	}
	href := eval[string](t, b, "location.href")
	cookie := eval[string](t, b, "document.cookie")
	stored := eval[string](t, b, "sessionStorage.getItem('loginrisk.token')")
	if strings.Contains(href, adminToken) || cookie != "" || stored != adminToken {
		t.Errorf("token placement: address %q, cookie %q, session storage %q; want it only in session storage", href, cookie, stored)
	}

	t.Run("live", func(t *testing.T) {
		b.do(t, "waiting for the chart", chromedp.WaitVisible(chromedp.CSS("#live-chart[data-points] canvas")),
			chromedp.WaitVisible(chromedp.CSS(".side .card")))
		var live liveView
		f.getJSON("/v1/console/live", readToken, &live)
		var want int64
		for i := range live.Series.Allow {
			want += live.Series.Allow[i] + live.Series.Challenge[i] + live.Series.Lockout[i]
		}
		points, _ := strconv.Atoi(b.attr(t, "#live-chart", "data-points"))
		total, _ := strconv.ParseInt(b.attr(t, "#live-chart", "data-total"), 10, 64)
		if points < 100 || total != want || want == 0 {
			t.Errorf("the chart holds %d points and %d decisions; the API has %d decisions in the window (want ≥ 100 points)", points, total, want)
		}
		if top := b.text(t, ".side .card td a"); top != live.Top.Rules[0].Key {
			t.Errorf("the first rule firing most is %q on the page, %q in the API", top, live.Top.Rules[0].Key)
		}
		shots.take(t, b, "console-live")

		// The chart follows by itself: decisions made now show up within a
		// refresh, without a reload.
		for i := range 5 {
			f.score(event{id: fmt.Sprintf("live-%d", i), at: testNow}, false)
		}
		expr := fmt.Sprintf("document.querySelector('#live-chart').dataset.total === '%d'", want+5)
		if !get(t, b, "waiting for the chart to take 5 new decisions", chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(15*time.Second))) {
			t.Error("the chart did not update")
		}
	})

	var lifted lockRow
	t.Run("locks", func(t *testing.T) {
		b.do(t, "opening the locks", chromedp.Navigate(f.ts.URL+"/ui/#locks"), chromedp.WaitVisible(chromedp.CSS("#locks-table")))
		var list struct {
			Total int       `json:"total"`
			Locks []lockRow `json:"locks"`
		}
		f.getJSON("/v1/locks?limit=1000", readToken, &list)
		if len(list.Locks) == 0 {
			t.Fatal("the demo traffic set no lock")
		}
		rows := eval[int](t, b, "document.querySelectorAll('#locks-table tbody tr').length")
		if rows != len(list.Locks) {
			t.Errorf("the page lists %d locks, /v1/locks %d", rows, len(list.Locks))
		}
		lifted = list.Locks[0]
		for _, l := range list.Locks { // prefer one whose decision this instance saw
			if l.SetBy != "" {
				lifted = l
				break
			}
		}
		id := string(lifted.Scope) + "/" + lifted.Key
		row := "tr[data-lock=" + cssString(id) + "]"
		text := b.text(t, row)
		for _, want := range []string{string(lifted.Scope), lifted.Rule, lifted.SetBy} {
			if !strings.Contains(text, want) {
				t.Errorf("the row of lock %s reads %q, which lacks %q", id, text, want)
			}
		}
		shots.take(t, b, "console-locks")

		b.do(t, "asking to lift "+id, chromedp.Click(chromedp.CSS("button[data-lift="+cssString(id)+"]")),
			chromedp.WaitVisible(chromedp.CSS("button[data-confirm="+cssString(id)+"]")))
		shots.take(t, b, "console-locks-confirm")
		b.do(t, "confirming the lift of "+id, chromedp.Click(chromedp.CSS("button[data-confirm="+cssString(id)+"]")),
			chromedp.WaitVisible(chromedp.CSS(".result .ok")), chromedp.WaitNotPresent(chromedp.CSS(row)))

		f.getJSON("/v1/locks?limit=1000", readToken, &list)
		for _, l := range list.Locks {
			if l.Scope == lifted.Scope && l.Key == lifted.Key {
				t.Errorf("/v1/locks still lists %s after the lift", id)
			}
		}
		records := f.published.find(func(d *schemas.Decision) bool {
			return d.Lock != nil && d.Lock.Rule == engine.AdminLiftRule && d.Lock.Scope == lifted.Scope && d.Lock.Key == lifted.Key
		})
		if len(records) != 1 {
			t.Fatalf("%d recorded lifts of %s, want 1", len(records), id)
		}
		if shown := b.text(t, ".result .ok a"); shown != records[0].EventID {
			t.Errorf("the page names the lift %q; it was recorded as %q", shown, records[0].EventID)
		}
		if !strings.Contains(records[0].Reasons[0].Detail, "alice") {
			t.Errorf("the lift's record %q does not name the admin", records[0].Reasons[0].Detail)
		}
	})

	t.Run("user", func(t *testing.T) {
		var recent struct {
			Decisions []feedRow `json:"decisions"`
		}
		f.getJSON("/v1/console/decisions?outcome=lockout&limit=1", readToken, &recent)
		if len(recent.Decisions) == 0 {
			t.Fatal("the demo traffic has no lockout")
		}
		user := recent.Decisions[0].Decision.UserID
		st := f.status("users/" + url.PathEscape(user))
		if st.LastDecision == nil {
			t.Fatalf("the API has no last decision for %s", user)
		}
		b.do(t, "looking up "+user, chromedp.Navigate(f.ts.URL+"/ui/#user"), chromedp.WaitVisible(chromedp.CSS("#subject-input")),
			chromedp.SendKeys(chromedp.CSS("#subject-input"), user+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#last-decision")))
		if got := b.attr(t, "#last-decision", "data-event"); got != st.LastDecision.EventID {
			t.Errorf("the page shows %s's last decision %s; the API says %s", user, got, st.LastDecision.EventID)
		}
		if got := b.attr(t, "#subject-recent tbody tr", "data-event"); got != st.LastDecision.EventID {
			t.Errorf("the newest recent decision on the page is %s, want %s", got, st.LastDecision.EventID)
		}
		if got, want := b.attr(t, "#last-decision time", "datetime"), st.LastDecision.OccurredAt.UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("the last decision's time is %s, want %s", got, want)
		}
		if hist := b.text(t, "#subject-history-card"); !strings.Contains(hist, "not configured") {
			t.Errorf("without history the page should say so; it reads %q", hist)
		}
		shots.take(t, b, "console-user")
	})

	t.Run("address", func(t *testing.T) {
		var live liveView
		f.getJSON("/v1/console/live", readToken, &live)
		network := live.Top.Networks[0].Key
		b.do(t, "looking up "+network, chromedp.Navigate(f.ts.URL+"/ui/#address/"+url.PathEscape(network)),
			chromedp.WaitVisible(chromedp.CSS("#subject-recent")))
		rows := eval[int](t, b, "document.querySelectorAll('#subject-recent tbody tr').length")
		if rows == 0 {
			t.Errorf("the network failing most, %s, shows no recent decision", network)
		}
		shots.take(t, b, "console-address")
	})

	t.Run("decisions", func(t *testing.T) {
		var recent struct {
			Decisions []feedRow `json:"decisions"`
		}
		f.getJSON("/v1/console/decisions?outcome=challenge&limit=200", readToken, &recent)
		b.do(t, "opening the decisions", chromedp.Navigate(f.ts.URL+"/ui/#decisions/outcome=challenge"),
			chromedp.WaitVisible(chromedp.CSS("#decisions-table")))
		ids := eval[[]string](t, b, "[...document.querySelectorAll('#decisions-table tbody tr')].map(r => r.dataset.event)")
		if len(ids) != len(recent.Decisions) || len(ids) == 0 || ids[0] != recent.Decisions[0].Decision.EventID {
			t.Errorf("the page lists %d challenges (first %v), the API %d", len(ids), ids[:min(1, len(ids))], len(recent.Decisions))
		}
		shots.take(t, b, "console-decisions")
		b.do(t, "opening a decision", chromedp.Click(chromedp.CSS("#decisions-table tbody tr td:last-child a")),
			chromedp.WaitVisible(chromedp.CSS("#decision-facts")), chromedp.WaitVisible(chromedp.CSS(".feature")))
		features := eval[int](t, b, "document.querySelectorAll('.feature').length")
		if features < 50 {
			t.Errorf("the decision shows %d features, want them all", features)
		}
		shots.take(t, b, "console-decision")
	})

	t.Run("rules", func(t *testing.T) {
		b.do(t, "opening the rules", chromedp.Navigate(f.ts.URL+"/ui/#rules"), chromedp.WaitVisible(chromedp.CSS("#rules-table")),
			chromedp.WaitVisible(chromedp.CSS("#reload-status")))
		rows := eval[int](t, b, "document.querySelectorAll('#rules-table tbody tr').length")
		if want := len(f.eng.Rules().Rules()); rows != want {
			t.Errorf("the page lists %d rules, the engine has %d", rows, want)
		}
		shots.take(t, b, "console-rules")
	})

	t.Run("phone", func(t *testing.T) {
		b.do(t, "a phone's screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(f.ts.URL+"/ui/#live"),
			chromedp.WaitVisible(chromedp.CSS("#live-chart[data-points] canvas")))
		overflow := eval[bool](t, b, "document.documentElement.scrollWidth > window.innerWidth + 1")
		if overflow {
			t.Error("the live view is wider than a phone's screen")
		}
		shots.take(t, b, "console-phone")
		b.do(t, "back to 1280×800", chromedp.EmulateViewport(1280, 800))
	})

	t.Run("tenant lock", func(t *testing.T) {
		// A lock of a tenant's user shows its tenant and is lifted with it.
		const user, ip = "tenant-bob", "198.51.100.77"
		for i := range 5 {
			f.score(event{id: fmt.Sprintf("browser-acme-%d", i), user: user, ip: ip, outcome: "failure", tenant: "acme",
				at: testNow.Add(time.Duration(i-5) * time.Minute)}, false)
		}
		id := "user_ip/" + user + "|" + ip + "?tenant=acme"
		b.do(t, "opening the locks", chromedp.Navigate(f.ts.URL+"/ui/#locks"), chromedp.WaitVisible(chromedp.CSS("button[data-lift="+cssString(id)+"]")))
		if text := b.text(t, "tr[data-lock="+cssString(id)+"]"); !strings.Contains(text, user+" (acme)") {
			t.Errorf("the row of %s reads %q, which does not name the tenant", id, text)
		}
		b.do(t, "lifting "+id, chromedp.Click(chromedp.CSS("button[data-lift="+cssString(id)+"]")),
			chromedp.WaitVisible(chromedp.CSS("button[data-confirm="+cssString(id)+"]")),
			chromedp.Click(chromedp.CSS("button[data-confirm="+cssString(id)+"]")),
			chromedp.WaitVisible(chromedp.CSS(".result .ok")), chromedp.WaitNotPresent(chromedp.CSS("tr[data-lock="+cssString(id)+"]")))
		var st engine.Status
		f.getJSON("/v1/users/"+user+"/status?tenant=acme", readToken, &st)
		if len(st.Locks) != 0 {
			t.Errorf("after the lift from the page acme's %s has locks %+v", user, st.Locks)
		}
	})

	t.Run("read role", func(t *testing.T) {
		b.do(t, "signing out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")))
		if stored := eval[string](t, b, "sessionStorage.getItem('loginrisk.token') || ''"); stored != "" {
			t.Errorf("signing out left the token in session storage")
		}
		b.do(t, "signing in with an unknown token", chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token-0123456789"+kb.Enter))
		if msg := get(t, b, "waiting for the refusal", chromedp.Poll[string]("document.getElementById('login-error').textContent")); msg != "This token is not accepted." {
			t.Errorf("an unknown token got %q", msg)
		}
		b.forget("status of 401 (Unauthorized) (" + f.ts.URL + "/v1/console/whoami")
		b.do(t, "signing in with the read token",
			chromedp.SendKeys(chromedp.CSS("#token"), readToken+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#nav")), chromedp.Navigate(f.ts.URL+"/ui/#locks"), chromedp.WaitVisible(chromedp.CSS("#locks-table")))
		buttons := eval[int](t, b, "document.querySelectorAll('button[data-lift]').length")
		if buttons != 0 {
			t.Errorf("a read token sees %d lift buttons", buttons)
		}
	})

	if errs := b.reported(); len(errs) > 0 {
		t.Errorf("the browser reported errors (a CSP violation, a script error):\n%s", strings.Join(errs, "\n"))
	}
}

// TestConsoleUserTimelineInBrowser checks that, with history configured,
// the user view shows the user's timeline from ClickHouse: the rows the
// API reads through the query pack, newest first.
func TestConsoleUserTimelineInBrowser(t *testing.T) {
	path := chromiumPath(t)
	dsn := historyDatabase(t)
	f := newFixture(t, fixtureOptions{geoip: true, history: historyQuery(dsn)})
	f.recordHistory(dsn, kenjiEvents())
	b := newBrowser(t, path)
	b.signIn(t, f, readToken)
	b.do(t, "looking up kenji", chromedp.Navigate(f.ts.URL+"/ui/#user/"+url.PathEscape("kenji@example.com")),
		chromedp.WaitVisible(chromedp.CSS("#subject-history")))
	ids := eval[[]string](t, b, "[...document.querySelectorAll('#subject-history tbody tr td:nth-child(2)')].map(td => td.textContent)")
	if strings.Join(ids, " ") != "k5 k4 k3 k2 k1" {
		t.Errorf("the page's timeline lists %v, want k5 … k1 from ClickHouse", ids)
	}
	if got := b.text(t, "#subject-contexts"); !strings.Contains(got, "Tokyo, JP") || !strings.Contains(got, "(FROM HISTORY)") {
		t.Errorf("known contexts read %q, want Tokyo, JP from history", got)
	}
	b.do(t, "scrolling to the timeline", chromedp.ScrollIntoView(chromedp.CSS("#subject-contexts")))
	newScreenshots(t).take(t, b, "console-user-history")
	if errs := b.reported(); len(errs) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
