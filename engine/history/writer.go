package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas"
)

// Config configures a Writer. It is the history's part of the clickhouse
// section of the configuration file: the yaml tags are the keys, and the
// fields tagged "-" are the caller's (the command joins the DSN to its
// password and sets the logger). DefaultConfig holds the defaults, which
// New fills into zero fields, and Validate every check, naming the key by
// its full path (clickhouse.…).
type Config struct {
	// DSN is a clickhouse-go DSN using the native protocol,
	// e.g. clickhouse://user:password@127.0.0.1:9000/loginrisk.
	DSN string `yaml:"-"`
	// BatchSize is the most rows one INSERT carries: each INSERT writes a
	// new part into every table it reaches, so ClickHouse's CPU per row
	// falls steeply with its size (docs/history.md, "What a row costs").
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is how often a partial batch is inserted; a full
	// batch is inserted at once.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// MaxBuffer bounds the rows held, waiting or being inserted.
	// WriteHistory blocks while it is full: the back-pressure that slows
	// the consumers when ClickHouse is slow or down. A row takes about
	// 1.5 KiB plus its strings.
	MaxBuffer int `yaml:"max_buffer"`
	// RetryMin and RetryMax bound the exponential backoff between failed
	// inserts. Inserts are retried until they succeed or Run's context
	// ends.
	RetryMin time.Duration `yaml:"-"`
	RetryMax time.Duration `yaml:"-"`
	// InsertTimeout bounds one insert attempt.
	InsertTimeout time.Duration `yaml:"-"`
	// DrainTimeout bounds the final flush when Run's context ends.
	DrainTimeout time.Duration `yaml:"-"`
	// Source is the source column of rows written with WriteHistory;
	// ForSource writes with another.
	Source string       `yaml:"-"`
	Logger *slog.Logger `yaml:"-"`
}

// DefaultConfig is the one place the writer's defaults are written.
//
// Inserts of 50 000 rows or a second cost ClickHouse least
// (docs/history.md, "What a row costs"); they suit a stream that publishes
// decisions before their rows are inserted (kafka.publish_before_history,
// on by default). Without it every decision waits for the flush: use
// 5 000 rows and 200 ms then.
func DefaultConfig() Config {
	return Config{
		BatchSize:     50_000,
		FlushInterval: time.Second,
		MaxBuffer:     100_000,
		RetryMin:      100 * time.Millisecond,
		RetryMax:      5 * time.Second,
		InsertTimeout: 30 * time.Second,
		DrainTimeout:  5 * time.Second,
		Source:        SourceKafka,
	}
}

func (c *Config) setDefaults() {
	defaults.Fill(c, DefaultConfig())
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration (after defaults).
func (c *Config) Validate() error {
	var errs []error
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("clickhouse.batch_size: %d must be at least 1", c.BatchSize))
	} else if c.MaxBuffer < c.BatchSize {
		errs = append(errs, fmt.Errorf("clickhouse.max_buffer: %d must be at least clickhouse.batch_size (%d)", c.MaxBuffer, c.BatchSize))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse.flush_interval: %s must be positive", c.FlushInterval))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("history: retry backoff %s..%s: min must be positive and at most max", c.RetryMin, c.RetryMax))
	}
	if c.InsertTimeout <= 0 || c.DrainTimeout <= 0 {
		errs = append(errs, errors.New("history: insert and drain timeouts must be positive"))
	}
	if !validSource(c.Source) {
		errs = append(errs, fmt.Errorf("history: source %q is not one of kafka, http, admin", c.Source))
	}
	return errors.Join(errs...)
}

// Metrics counts the writer's work. The fields are read with atomic loads;
// the names in the comments are the Prometheus names to export them as.
type Metrics struct {
	RowsWrittenTotal atomic.Int64 // loginrisk_history_rows_written_total
	BatchesTotal     atomic.Int64 // loginrisk_history_batches_total
	RetriesTotal     atomic.Int64 // loginrisk_history_insert_retries_total (failed attempts)
	BufferRows       atomic.Int64 // loginrisk_history_buffer_rows (gauge: waiting or being inserted)
	// Insert latency of successful batches, in nanoseconds: the last one,
	// and a sum to divide by BatchesTotal
	// (loginrisk_history_insert_seconds_sum / _count).
	LastInsertNanos atomic.Int64
	InsertNanosSum  atomic.Int64
}

// ErrStopped is returned by WriteHistory when the writer stopped (Run
// returned or Close was called) before the rows were inserted.
var ErrStopped = errors.New("history: writer stopped")

// ErrRunning is returned by Run when it is already running.
var ErrRunning = errors.New("history: writer already running")

// Writer stores scored events in ClickHouse (engine.HistoryWriter) and
// reads them back at start-up (engine.WarmSource). Rows from every caller
// go to one bounded buffer; Run inserts them in batches, retrying while
// ClickHouse is unreachable, and WriteHistory returns once its rows are
// inserted.
type Writer struct {
	cfg     Config
	log     *slog.Logger
	conn    driver.Conn
	columns *columnTable // of login_events, for inserts and reads
	metrics Metrics

	running atomic.Bool

	mu       sync.Mutex
	pending  rowQueue // rows not yet taken by the flusher
	inflight int      // rows the flusher is inserting
	enqueued uint64   // rows ever enqueued (sequence number of the last one)
	inserted uint64   // rows ever inserted; FIFO, so every row <= inserted is in
	stopped  bool
	closed   bool
	changed  chan struct{} // closed and replaced when inserted grows, space frees or the writer stops
	wake     chan struct{} // a full batch is waiting

	health health
}

var (
	_ engine.HistoryWriter   = (*Writer)(nil)
	_ engine.HistoryEnqueuer = (*Writer)(nil)
	_ engine.WarmSource      = (*Writer)(nil)
)

// New checks the configuration and returns a Writer. It does not connect:
// the first insert or query does, so New succeeds while ClickHouse is down.
func New(cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	columns, err := recordColumns()
	if err != nil {
		return nil, err
	}
	opts, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, err
	}
	conn, err := open(opts)
	if err != nil {
		return nil, err
	}
	return &Writer{
		columns: columns,
		cfg:     cfg,
		log:     cfg.Logger,
		conn:    conn,
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}, nil
}

// Metrics returns the writer's counters.
func (w *Writer) Metrics() *Metrics { return &w.metrics }

// WriteHistory stores events with the configured source. It blocks while
// the buffer is full and returns once every event is inserted; on
// cancellation it returns ctx.Err(), and rows it already buffered are still
// inserted (a retry by the caller is harmless: login_events deduplicates).
func (w *Writer) WriteHistory(ctx context.Context, events []schemas.ScoredEvent) error {
	return w.write(ctx, w.cfg.Source, events)
}

// ForSource returns a HistoryWriter that stores its events with another
// source ("http" for POST /v1/score, "admin"), through the same buffer.
func (w *Writer) ForSource(source string) (engine.HistoryWriter, error) {
	if !validSource(source) {
		return nil, fmt.Errorf("history: source %q is not one of kafka, http, admin", source)
	}
	return sourceWriter{w: w, source: source}, nil
}

type sourceWriter struct {
	w      *Writer
	source string
}

func (s sourceWriter) WriteHistory(ctx context.Context, events []schemas.ScoredEvent) error {
	return s.w.write(ctx, s.source, events)
}

func (w *Writer) write(ctx context.Context, source string, events []schemas.ScoredEvent) error {
	last, err := w.enqueue(ctx, source, events)
	if err != nil {
		return err
	}
	return w.wait(ctx, last)
}

// EnqueueHistory buffers events with the configured source and returns
// without waiting for the insert: it blocks only while the buffer is full
// (the back-pressure). durable returns once every event is inserted, as
// WriteHistory would; rows are inserted in the order they were buffered.
// On cancellation EnqueueHistory returns ctx.Err(), and rows it already
// buffered are still inserted.
func (w *Writer) EnqueueHistory(ctx context.Context, events []schemas.ScoredEvent) (durable func(context.Context) error, err error) {
	last, err := w.enqueue(ctx, w.cfg.Source, events)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return w.wait(ctx, last) }, nil
}

// enqueue converts events to rows and buffers them, waiting while the
// buffer is full. It returns the sequence number of the last row.
func (w *Writer) enqueue(ctx context.Context, source string, events []schemas.ScoredEvent) (uint64, error) {
	if len(events) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rows := make([]record, len(events))
	for i := range events {
		r, err := newRecord(&events[i], source)
		if err != nil {
			return 0, err
		}
		rows[i] = r
	}
	var last uint64
	for len(rows) > 0 {
		w.mu.Lock()
		if w.stopped || w.closed {
			w.mu.Unlock()
			return 0, ErrStopped
		}
		free := w.cfg.MaxBuffer - w.pending.n - w.inflight
		if free <= 0 {
			changed := w.changed
			w.mu.Unlock()
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		n := min(free, len(rows))
		w.pending.push(rows[:n:n])
		w.enqueued += uint64(n)
		last = w.enqueued
		full := w.pending.n >= w.cfg.BatchSize
		w.metrics.BufferRows.Store(int64(w.pending.n + w.inflight))
		w.mu.Unlock()
		rows = rows[n:]
		if full {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	return last, nil
}

// wait returns once the row with sequence number last is inserted (0:
// at once), or the writer stopped, or ctx ended.
func (w *Writer) wait(ctx context.Context, last uint64) error {
	for {
		w.mu.Lock()
		done, stopped, changed := w.inserted >= last, w.stopped || w.closed, w.changed
		w.mu.Unlock()
		switch {
		case done:
			return nil
		case stopped:
			return ErrStopped
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// broadcastLocked wakes every waiter; the caller holds w.mu.
func (w *Writer) broadcastLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// Run inserts buffered rows until ctx ends: a full batch at once, a partial
// one every FlushInterval. A failed insert is retried with exponential
// backoff, forever: nothing is dropped. When ctx ends it flushes what is
// buffered, for at most DrainTimeout, and returns nil, or an error saying
// how many rows it could not insert.
func (w *Writer) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	var retry rowBatch // a batch taken but not inserted when ctx ended
	for {
		select {
		case <-ctx.Done():
			return w.drain(ctx, retry)
		case <-w.wake:
			retry = w.flush(ctx, false)
		case <-ticker.C:
			retry = w.flush(ctx, true)
		}
		if retry != nil {
			return w.drain(ctx, retry)
		}
	}
}

// flush inserts the full batches waiting and, with partial, what is left.
// It returns a batch it took but could not insert because ctx ended.
func (w *Writer) flush(ctx context.Context, partial bool) rowBatch {
	for {
		batch := w.take(partial)
		if batch == nil {
			return nil
		}
		if err := w.insertRetrying(ctx, batch); err != nil {
			return batch
		}
		// Rows that arrived during the insert wait for a full batch or
		// the next tick: that keeps inserts few and large.
		partial = false
	}
}

// take removes the next batch from the buffer: a full one, or with
// partial whatever is there. It returns nil when there is nothing to take.
func (w *Writer) take(partial bool) rowBatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(w.pending.n, w.cfg.BatchSize)
	if n == 0 || (n < w.cfg.BatchSize && !partial) {
		return nil
	}
	w.inflight += n
	return w.pending.take(n)
}

// done records that the oldest n in-flight rows are inserted.
func (w *Writer) done(n int) {
	w.mu.Lock()
	w.inflight -= n
	w.inserted += uint64(n)
	w.metrics.BufferRows.Store(int64(w.pending.n + w.inflight))
	w.broadcastLocked()
	w.mu.Unlock()
}

// drain flushes, after ctx ended, the batch being retried and everything
// buffered, for at most DrainTimeout, then stops the writer.
func (w *Writer) drain(ctx context.Context, retry rowBatch) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DrainTimeout)
	defer cancel()
	var err error
	if retry != nil {
		err = w.insertRetrying(dctx, retry)
	}
	for err == nil {
		batch := w.take(true)
		if batch == nil {
			break
		}
		err = w.insertRetrying(dctx, batch)
	}
	w.mu.Lock()
	left := w.pending.n + w.inflight
	w.stopped = true
	w.broadcastLocked()
	w.mu.Unlock()
	if left > 0 {
		if last := w.health.lastError(); last != nil {
			err = fmt.Errorf("%w (last insert error: %v)", err, last)
		}
		w.log.Warn("history rows not inserted at shutdown", "rows", left, "err", err)
		return fmt.Errorf("history: %d rows not inserted at shutdown: %w", left, err)
	}
	return nil
}

// insertRetrying inserts a batch, retrying with exponential backoff until
// it succeeds or ctx ends (then it returns ctx.Err()).
func (w *Writer) insertRetrying(ctx context.Context, batch rowBatch) error {
	err := engine.Retry(ctx, engine.Backoff{Min: w.cfg.RetryMin, Max: w.cfg.RetryMax, Jitter: true}, func(int) error {
		start := time.Now()
		err := w.insert(ctx, batch)
		if err == nil {
			elapsed := time.Since(start)
			n := batch.len()
			w.metrics.RowsWrittenTotal.Add(int64(n))
			w.metrics.BatchesTotal.Add(1)
			w.metrics.LastInsertNanos.Store(int64(elapsed))
			w.metrics.InsertNanosSum.Add(int64(elapsed))
			if attempts, down := w.health.succeeded(); attempts > 0 {
				w.log.Info("history inserts recovered", "failed_attempts", attempts, "down_for", down.Round(time.Millisecond))
			}
			w.done(n)
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		w.metrics.RetriesTotal.Add(1)
		if attempts, logNow := w.health.failed(err); logNow {
			w.log.Warn("history insert failing; retrying", "rows", batch.len(), "failed_attempts", attempts, "err", err)
		}
		return err
	})
	if err != nil {
		return ctx.Err() // Retry only gives up when ctx ends
	}
	return nil
}

// insert sends one batch as one INSERT naming every column.
func (w *Writer) insert(ctx context.Context, batch rowBatch) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.InsertTimeout)
	defer cancel()
	b, err := w.conn.PrepareBatch(ctx, w.columns.insertSQL)
	if err != nil {
		return err
	}
	if err := w.columns.appendRows(b, batch); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// appendRows appends the rows to an INSERT's batch, through one binding.
func (t *columnTable) appendRows(b driver.Batch, batch rowBatch) error {
	row := t.bind()
	for _, chunk := range batch {
		for i := range chunk {
			row.load(&chunk[i])
			if err := b.Append(row.dest...); err != nil {
				return fmt.Errorf("appending event %s: %w", chunk[i].EventID, err)
			}
		}
	}
	return nil
}

// Healthy reports whether inserts are going through; while they fail it
// says since when and why (for /readyz).
func (w *Writer) Healthy() (bool, string) { return w.health.status() }

// Close stops the writer (waiting writers get ErrStopped) and closes the
// connections. Cancel Run's context and let it return first, so the
// buffer is flushed. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.broadcastLocked()
	w.mu.Unlock()
	return w.conn.Close()
}

// health tracks whether inserts fail, for Healthy and for logging an
// outage once rather than on every retry.
type health struct {
	mu       sync.Mutex
	err      error
	since    time.Time
	attempts int
	lastLog  time.Time
}

// healthLogEvery spaces the warnings of a long outage.
const healthLogEvery = 30 * time.Second

func (h *health) failed(err error) (attempts int, logNow bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.err == nil {
		h.since = now
	}
	h.err = err
	h.attempts++
	if h.attempts == 1 || now.Sub(h.lastLog) >= healthLogEvery {
		h.lastLog = now
		return h.attempts, true
	}
	return h.attempts, false
}

func (h *health) succeeded() (attempts int, down time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return 0, 0
	}
	attempts, down = h.attempts, time.Since(h.since)
	h.err, h.attempts = nil, 0
	return attempts, down
}

func (h *health) status() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return true, "ok"
	}
	return false, fmt.Sprintf("clickhouse inserts failing since %s (%d attempts): %v",
		h.since.UTC().Format(time.RFC3339), h.attempts, h.err)
}

func (h *health) lastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}
