// Package store is the SQLite projection of SPEC §4.1: everything in it can
// be rebuilt from the broker's streams. One writer connection serializes
// writes; a separate read pool serves the API so reads never wait on it.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes Open; the zero value is the production default.
type Options struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection (default 5s). Tests shorten it to provoke DB errors.
	BusyTimeout time.Duration
	// ReadConns caps the read pool (default 8).
	ReadConns int
}

// Store is the projection database.
type Store struct {
	w     *sql.DB // exactly one connection: writes are serialized here
	r     *sql.DB // read pool
	stmts stmtCache
	// details caches execution details; every write that changes
	// execution_results or execution_targets invalidates what it touched.
	details detailCache
	// agents caches agents-list pages; writes to agents bump its gen.
	agents agentPages
}

// projectionTables are dropped by Reset; schedule_ticks (not rebuildable)
// and schema_migrations are kept.
var projectionTables = []string{
	"projection_meta", "agents", "agent_groups", "executions", "execution_targets",
	"execution_results", "audit_log", "inventory", "dead_letters",
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with explicit options.
func OpenWith(path string, o Options) (*Store, error) {
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 8
	}
	registerFuncs()
	w, err := sql.Open("sqlite", dsn(path, o, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(context.Background()); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.stmts.prepare(context.Background(), w); err != nil {
		w.Close()
		return nil, err
	}
	// The read pool opens after migration so WAL mode is already set.
	r, err := sql.Open("sqlite", dsn(path, o, true))
	if err != nil {
		s.stmts.close()
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	s.r = r
	return s, nil
}

func dsn(path string, o Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(OFF)") // projection rows arrive in any order
	// A bigger page cache and mmap keep fleet-sized scans (10 000 results
	// of one execution) off the VFS read path.
	q.Add("_pragma", "cache_size(-65536)")
	q.Add("_pragma", "mmap_size(268435456)")
	// A multi-row upsert keeps a statement journal; past 64 KiB SQLite
	// spills it to a temp file, one pwrite per page (5 % of the server's
	// CPU in a fan-out round). It never outlives its statement: memory.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// Take the write lock at BEGIN so a transaction never fails half-way
		// on a read→write upgrade.
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close closes both pools.
func (s *Store) Close() error {
	s.stmts.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// InstanceID identifies this projection; it changes on Reset and for a new
// file, so projector consumers named after it replay the streams.
func (s *Store) InstanceID(ctx context.Context) (string, error) {
	var id string
	err := s.w.QueryRowContext(ctx, `SELECT value FROM projection_meta WHERE key='instance'`).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("read projection instance: %w", err)
	}
	return id, nil
}

// Reset drops every projection table and re-creates them empty (for
// `kanade server --reproject`). The decision log and local tables survive.
func (s *Store) Reset(ctx context.Context) error {
	defer s.agents.bump() // after the commit and the re-created tables
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	defer tx.Rollback()
	for _, t := range projectionTables {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("reset: drop %s: %w", t, err)
		}
	}
	// Migrations are written to be re-runnable (IF NOT EXISTS), so forgetting
	// them re-creates exactly the dropped tables.
	if _, err := tx.ExecContext(ctx, "DELETE FROM schema_migrations"); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	s.details.invalidateAll()
	return s.migrate(ctx)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, name string) error {
	base := strings.TrimPrefix(name, "migrations/")
	num, _, _ := strings.Cut(base, "_")
	version, err := strconv.Atoi(num)
	if err != nil {
		return fmt.Errorf("migration %s: name must start with a number: %w", base, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version=?`, version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES(?, ?)`,
		version, ts(time.Now())); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", base, err)
	}
	return nil
}

// tsLayout is RFC 3339 in UTC with a fixed nine-digit fraction. Unlike
// time.RFC3339Nano (which drops trailing zeros, so "…:05Z" sorts after
// "…:05.5Z"), fixed width makes text order equal time order.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

func tsPtr(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return ts(*t)
}

func parseTS(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func parseTSPtr(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t := parseTS(s.String)
	return &t
}

// FilterError is a client mistake in a read filter (bad regex, unknown
// sort key, bad status); the API maps it to 400.
type FilterError struct {
	Field string
	Value string
	Msg   string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("%s: %s (%q)", e.Field, e.Msg, e.Value)
}

// IsFilterError reports whether err is (or wraps) a FilterError.
func IsFilterError(err error) bool {
	var fe *FilterError
	return errors.As(err, &fe)
}

var (
	registerOnce sync.Once
	regexMu      sync.Mutex
	regexCache   = map[string]*regexp.Regexp{} // bounded: cleared past 256 patterns
)

// registerFuncs adds kanade_regexp(pattern, text) for ListAgents' regex
// filter; SQLite has no REGEXP implementation of its own.
func registerFuncs() {
	registerOnce.Do(func() {
		_ = sqlite.RegisterDeterministicScalarFunction("kanade_regexp", 2, regexpFunc)
	})
}

func regexpFunc(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	pat, _ := args[0].(string)
	text, _ := args[1].(string)
	re, err := cachedRegexp(pat)
	if err != nil {
		return nil, err
	}
	if re.MatchString(text) {
		return int64(1), nil
	}
	return int64(0), nil
}

func cachedRegexp(pat string) (*regexp.Regexp, error) {
	regexMu.Lock()
	defer regexMu.Unlock()
	if re, ok := regexCache[pat]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, err
	}
	if len(regexCache) >= 256 {
		clear(regexCache)
	}
	regexCache[pat] = re
	return re, nil
}
