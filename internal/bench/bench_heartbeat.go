package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the driver the store uses
)

// HeartbeatSample is the projection's freshness at one instant.
type HeartbeatSample struct {
	Elapsed time.Duration
	Agents  int
	// NewestAge is now − the newest last_heartbeat: the projection
	// pipeline's lag (publish → micro-batch → SQLite commit).
	NewestAge time.Duration
	// OldestAge is now − the oldest last_heartbeat: it stays under
	// interval + lag only if every agent's heartbeat gets projected.
	OldestAge time.Duration
	ServerCPU float64 // share of one core since the previous sample
	ServerRSS int64
}

// HeartbeatResult is a heartbeat run.
type HeartbeatResult struct {
	Agents    int
	Interval  time.Duration
	Samples   []HeartbeatSample
	ServerCPU float64 // share of one core over the whole run
	MaxRSS    int64
}

// MaxNewestAge is the worst pipeline lag seen.
func (r HeartbeatResult) MaxNewestAge() time.Duration {
	var m time.Duration
	for _, s := range r.Samples {
		m = max(m, s.NewestAge)
	}
	return m
}

// MaxOldestAge is the worst staleness of any agent seen.
func (r HeartbeatResult) MaxOldestAge() time.Duration {
	var m time.Duration
	for _, s := range r.Samples {
		m = max(m, s.OldestAge)
	}
	return m
}

func (s HeartbeatSample) String() string {
	return fmt.Sprintf("t=%-4s agents=%d newest_age=%s oldest_age=%s server_cpu=%.0f%% server_rss=%dMiB",
		s.Elapsed.Round(time.Second), s.Agents, ms(s.NewestAge), ms(s.OldestAge), s.ServerCPU*100, s.ServerRSS>>20)
}

// MeasureHeartbeats samples the projection's heartbeat freshness in
// SQLite, and the server's CPU and RSS, every `every` for `dur`.
func MeasureHeartbeats(ctx context.Context, b Backend, agents int, interval, dur, every time.Duration, log func(string)) (HeartbeatResult, error) {
	res := HeartbeatResult{Agents: agents, Interval: interval}
	db, err := openReadOnly(b.DBPath())
	if err != nil {
		return res, err
	}
	defer db.Close()
	first, err := SampleProc(b.PID)
	if err != nil {
		return res, err
	}
	prev, start := first, time.Now()
	for time.Since(start) < dur {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(every):
		}
		s, cur, err := sampleHeartbeats(ctx, db, b.PID, prev)
		if err != nil {
			return res, err
		}
		s.Elapsed, prev = time.Since(start), cur
		res.Samples = append(res.Samples, s)
		res.MaxRSS = max(res.MaxRSS, s.ServerRSS)
		log(s.String())
	}
	res.ServerCPU = CPUShare(first, prev)
	return res, nil
}

func sampleHeartbeats(ctx context.Context, db *sql.DB, pid int, prev ProcSample) (HeartbeatSample, ProcSample, error) {
	var s HeartbeatSample
	var oldest, newest string
	err := db.QueryRowContext(ctx, `SELECT count(*), min(last_heartbeat), max(last_heartbeat) FROM agents`).
		Scan(&s.Agents, &oldest, &newest)
	now := time.Now()
	if err != nil {
		return s, prev, fmt.Errorf("read heartbeats: %w", err)
	}
	s.OldestAge, s.NewestAge = age(now, oldest), age(now, newest)
	cur, err := SampleProc(pid)
	if err != nil {
		return s, prev, err
	}
	s.ServerCPU, s.ServerRSS = CPUShare(prev, cur), cur.RSS
	return s, cur, nil
}

func age(now time.Time, stamp string) time.Duration {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return -1
	}
	return now.Sub(t)
}

// openReadOnly opens the server's projection beside it; query_only and
// a busy timeout keep the reads from disturbing the projector's writes.
func openReadOnly(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
