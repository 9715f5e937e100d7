package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// seenStore remembers request ids already accepted, on disk, so that a
// command reaching the agent on several subjects, by catch-up, or again
// after a restart runs once. It is an append-only log of
// "<unix-seconds> <request_id>" lines, compacted when entries expire.
type seenStore struct {
	mu        sync.Mutex
	path      string
	fsync     bool
	retention time.Duration
	ids       map[string]int64
	f         *os.File
	appended  int // lines appended since the last compaction
}

func openSeen(dir string, retention time.Duration, fsync bool, now time.Time) (*seenStore, error) {
	s := &seenStore{
		path: filepath.Join(dir, "seen.log"), fsync: fsync,
		retention: retention, ids: map[string]int64{},
	}
	if err := s.load(now); err != nil {
		return nil, err
	}
	if err := s.compact(now); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads the log; malformed lines (a torn last write) are skipped.
func (s *seenStore) load(now time.Time) error {
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open seen log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ts, id, ok := strings.Cut(sc.Text(), " ")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil || id == "" {
			continue
		}
		s.ids[id] = sec
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read seen log: %w", err)
	}
	return nil
}

// MarkIfNew records id and reports true when it was not seen before. The
// record is on disk (fsync'd if enabled) before it returns, so a crash
// after this point can never run the command twice.
func (s *seenStore) MarkIfNew(id string, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false, nil
	}
	line := strconv.FormatInt(now.Unix(), 10) + " " + id + "\n"
	if _, err := s.f.WriteString(line); err != nil {
		return false, fmt.Errorf("append seen log: %w", err)
	}
	if s.fsync {
		if err := s.f.Sync(); err != nil {
			return false, fmt.Errorf("sync seen log: %w", err)
		}
	}
	s.ids[id] = now.Unix()
	s.appended++
	return true, nil
}

// Prune drops expired ids and rewrites the log when that is worth it.
func (s *seenStore) Prune(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.compact(now)
}

// compact must be called with mu held (or before the store is shared).
func (s *seenStore) compact(now time.Time) error {
	cutoff := now.Add(-s.retention).Unix()
	dropped := 0
	for id, ts := range s.ids {
		if ts < cutoff {
			delete(s.ids, id)
			dropped++
		}
	}
	if s.f != nil && dropped == 0 && s.appended < 1024 {
		return nil
	}
	if err := s.rewrite(); err != nil {
		return err
	}
	s.appended = 0
	return nil
}

// rewrite writes the live set to a temp file and renames it over the log,
// so a crash leaves either the old or the new log, never half of one.
func (s *seenStore) rewrite() error {
	tmp := s.path + ".tmp"
	var b strings.Builder
	for id, ts := range s.ids {
		b.WriteString(strconv.FormatInt(ts, 10) + " " + id + "\n")
	}
	if err := writeFileAtomic(tmp, s.path, []byte(b.String()), s.fsync); err != nil {
		return fmt.Errorf("compact seen log: %w", err)
	}
	if s.f != nil {
		s.f.Close()
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("reopen seen log: %w", err)
	}
	s.f = f
	return nil
}

// Close releases the log file.
func (s *seenStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// writeFileAtomic writes data to tmp, optionally fsyncs it, renames it to
// dst and fsyncs the directory so the rename itself survives a crash.
func writeFileAtomic(tmp, dst string, data []byte, fsync bool) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	if fsync {
		syncDir(filepath.Dir(dst))
	}
	return nil
}

// syncDir is best effort: Windows cannot open a directory for Sync.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
