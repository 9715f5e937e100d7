package store

import (
	"context"
	"fmt"
	"time"
)

// Breakdown counts agents by OS and by agent version, split online and
// offline, for the overview's pictures.
type Breakdown struct {
	ByOS      map[string]OnOff `json:"by_os"`
	ByVersion map[string]OnOff `json:"by_version"`
}

// OnOff is one bucket of a breakdown.
type OnOff struct {
	Count   int `json:"count"`
	Online  int `json:"online"`
	Offline int `json:"offline"`
}

// AgentBreakdown groups the agents table in one pass per dimension.
func (s *Store) AgentBreakdown(ctx context.Context, now time.Time) (Breakdown, error) {
	b := Breakdown{ByOS: map[string]OnOff{}, ByVersion: map[string]OnOff{}}
	since := ts(now.Add(-OnlineWindow))
	for col, into := range map[string]map[string]OnOff{"os": b.ByOS, "agent_version": b.ByVersion} {
		rows, err := s.r.QueryContext(ctx, `SELECT `+col+`, coalesce(sum(last_heartbeat >= ?), 0), count(*)
			FROM agents GROUP BY `+col, since)
		if err != nil {
			return b, fmt.Errorf("agents by %s: %w", col, err)
		}
		for rows.Next() {
			var key string
			var online, total int
			if err := rows.Scan(&key, &online, &total); err != nil {
				rows.Close()
				return b, fmt.Errorf("agents by %s: %w", col, err)
			}
			into[key] = OnOff{Count: total, Online: online, Offline: total - online}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return b, fmt.Errorf("agents by %s: %w", col, err)
		}
	}
	return b, nil
}
