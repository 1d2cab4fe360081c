package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Dir is the rules folder; empty means the shipped set (Default),
	// which never changes and is not watched.
	Dir string
	// Logger receives reload outcomes; nil discards them.
	Logger *slog.Logger
	// Debounce is how long Run waits after the last change in Dir before
	// reloading, so an editor's burst of writes and renames reloads once.
	// Zero means 200ms.
	Debounce time.Duration
}

// Manager holds the current rule set and replaces it when the folder
// changes. Current is lock-free; reloads are serialised.
type Manager struct {
	cfg     ManagerConfig
	log     *slog.Logger
	current atomic.Pointer[Set]

	reloadMu sync.Mutex // one reload at a time, so an older load never replaces a newer one

	reloads       atomic.Uint64
	failures      atomic.Uint64
	lastSuccess   atomic.Int64 // unix nanoseconds
	lastFailed    atomic.Bool
	lastErrorText atomic.Pointer[string]
}

// Metrics is a snapshot of a Manager's counters, for export as
// loginrisk_rules_reloads_total, loginrisk_rules_reload_failures_total,
// loginrisk_rules_last_reload_success_timestamp_seconds and
// loginrisk_rules_last_reload_successful.
type Metrics struct {
	// ReloadsTotal counts load attempts, the initial load included.
	ReloadsTotal uint64
	// ReloadFailuresTotal counts attempts that failed (the previous set was
	// kept).
	ReloadFailuresTotal uint64
	// LastSuccess is when a load last succeeded.
	LastSuccess time.Time
	// LastReloadSuccessful is false while the folder holds a broken set.
	LastReloadSuccessful bool
	// Version and Rules describe the current set.
	Version string
	Rules   int
}

// NewManager loads the rule set once and returns a Manager holding it. It
// fails if that first load fails: there is no previous set to keep.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 200 * time.Millisecond
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: logger}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// Current returns the current rule set. It never blocks and never returns
// nil.
func (m *Manager) Current() *Set { return m.current.Load() }

func (m *Manager) load() (*Set, error) {
	if m.cfg.Dir == "" {
		return Default()
	}
	return Load(m.cfg.Dir)
}

// Reload loads and compiles the whole folder and, if that succeeds,
// replaces the current set in one step. On failure the previous set stays
// current, the error is logged and counted, and returned. cmd calls it on
// SIGHUP; Run calls it when the folder changes.
func (m *Manager) Reload() error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.reloads.Add(1)
	set, err := m.load()
	if err != nil {
		m.failures.Add(1)
		m.lastFailed.Store(true)
		text := err.Error()
		m.lastErrorText.Store(&text)
		attrs := []any{"rules_dir", m.dir(), "errors", countErrors(err), "error", err}
		if prev := m.current.Load(); prev != nil {
			attrs = append(attrs, "rules_version", prev.Version())
			m.log.Error("rules reload failed; keeping the previous rule set", attrs...)
		}
		return err
	}
	m.lastFailed.Store(false)
	m.lastSuccess.Store(time.Now().UnixNano())
	prev := m.current.Load()
	if prev != nil && prev.Version() == set.Version() {
		m.log.Debug("rules unchanged", "rules_dir", m.dir(), "rules_version", set.Version())
		return nil
	}
	m.current.Store(set)
	m.log.Info("rules loaded", "rules_dir", m.dir(), "rules_version", set.Version(), "rules", len(set.rules))
	return nil
}

func (m *Manager) dir() string {
	if m.cfg.Dir == "" {
		return "(embedded default)"
	}
	return m.cfg.Dir
}

// countErrors returns how many problems a load error joins.
func countErrors(err error) int {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return len(joined.Unwrap())
	}
	return 1
}

// Metrics returns a snapshot of the reload counters.
func (m *Manager) Metrics() Metrics {
	set := m.Current()
	var last time.Time
	if ns := m.lastSuccess.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return Metrics{
		ReloadsTotal:         m.reloads.Load(),
		ReloadFailuresTotal:  m.failures.Load(),
		LastSuccess:          last,
		LastReloadSuccessful: !m.lastFailed.Load(),
		Version:              set.Version(),
		Rules:                len(set.rules),
	}
}

// LastError returns the text of the last failed reload while the folder is
// broken, else "".
func (m *Manager) LastError() string {
	if !m.lastFailed.Load() {
		return ""
	}
	if p := m.lastErrorText.Load(); p != nil {
		return *p
	}
	return ""
}

// Run watches the rules folder and reloads, debounced, after changes to
// rule files, until ctx is done; it then returns nil. It watches the
// folder, not the files, so editors that save by writing a new file and
// renaming it over the old one, and Kubernetes ConfigMap updates (which
// swap a "..data" symlink), are seen. With the embedded default set there
// is nothing to watch and Run just waits for ctx.
func (m *Manager) Run(ctx context.Context) error {
	if m.cfg.Dir == "" {
		<-ctx.Done()
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching rules %s: %w", m.cfg.Dir, err)
	}
	defer w.Close()
	if err := w.Add(m.cfg.Dir); err != nil {
		return fmt.Errorf("watching rules %s: %w", m.cfg.Dir, err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// retry is armed while the folder cannot be watched (it was removed or
	// replaced); the folder is watched again, and reloaded, once it exists.
	var retry <-chan time.Time
	rewatch := func() {
		if len(w.WatchList()) > 0 {
			return
		}
		if err := w.Add(m.cfg.Dir); err != nil {
			if retry == nil {
				m.log.Warn("rules folder cannot be watched; retrying every second", "rules_dir", m.cfg.Dir, "error", err)
			}
			retry = time.After(time.Second)
			return
		}
		retry = nil
		timer.Reset(m.cfg.Debounce)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if m.relevant(ev) {
				timer.Reset(m.cfg.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			m.log.Warn("watching rules folder", "rules_dir", m.cfg.Dir, "error", err)
		case <-retry:
			rewatch()
		case <-timer.C:
			rewatch()
			_ = m.Reload() // logged and counted by Reload
		}
	}
}

// relevant reports whether a change can affect the rule set: a rule file
// (by extension), Kubernetes' "..data" swap, or the folder itself.
func (m *Manager) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if filepath.Clean(ev.Name) == filepath.Clean(m.cfg.Dir) {
		return true
	}
	base := filepath.Base(ev.Name)
	return isRuleFile(base) || strings.HasPrefix(base, "..")
}
