package localsched

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is everything the ticker must remember across restarts and broker
// outages, kept in one JSON file that is replaced atomically.
type state struct {
	// Schedules and Jobs are the cached KV values (raw, as stored), so a
	// restart without a broker ticks exactly what was last seen.
	Schedules map[string]json.RawMessage `json:"schedules"`
	Jobs      map[string]json.RawMessage `json:"jobs"`
	// Successes is the latest successful finish per job on this PC: the
	// local equivalent of the backend's completions.
	Successes map[string]time.Time `json:"successes"`
	// Runs are this ticker's own dispatches per schedule, for in-flight
	// suppression.
	Runs map[string]runMark `json:"runs"`
	// Cursor is the last calendar minute handled per schedule, so a
	// restart inside the catch-up grace does not fire it twice.
	Cursor map[string]time.Time `json:"cursor"`
}

type runMark struct {
	ExecID  string    `json:"exec_id"`
	FiredAt time.Time `json:"fired_at"`
	Done    bool      `json:"done"`
}

func newState() *state {
	return &state{
		Schedules: map[string]json.RawMessage{}, Jobs: map[string]json.RawMessage{},
		Successes: map[string]time.Time{}, Runs: map[string]runMark{}, Cursor: map[string]time.Time{},
	}
}

// loadState reads the file; a missing file is a fresh start, a corrupt one
// is reported so the agent logs it and starts fresh rather than not at all.
func loadState(path string) (*state, error) {
	st := newState()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return newState(), fmt.Errorf("decode %s: %w", path, err)
	}
	fill(st)
	return st, nil
}

// fill replaces nil maps of an older or partial file.
func fill(st *state) {
	fresh := newState()
	if st.Schedules == nil {
		st.Schedules = fresh.Schedules
	}
	if st.Jobs == nil {
		st.Jobs = fresh.Jobs
	}
	if st.Successes == nil {
		st.Successes = fresh.Successes
	}
	if st.Runs == nil {
		st.Runs = fresh.Runs
	}
	if st.Cursor == nil {
		st.Cursor = fresh.Cursor
	}
}

// save writes to a temp file, syncs and renames, so a crash leaves either
// the old or the new state, never half of one.
func (st *state) save(path string) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state: %w", err)
	}
	return nil
}
