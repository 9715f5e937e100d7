package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/wire"
)

// The cached agents page must follow every write and the passing of
// time (an online flag flips OnlineWindow after the last heartbeat).
func TestAgentPageCacheIsExact(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	list := func(now time.Time) Page[Agent] {
		t.Helper()
		p, err := s.ListAgents(ctx, AgentFilter{Limit: 10}, now)
		if err != nil {
			t.Fatal(err)
		}
		// The encoded answer (cached beside the page) must say the same,
		// asked twice (miss, then hit).
		for range 2 {
			enc, err := s.ListAgentsJSON(ctx, AgentFilter{Limit: 10}, now, func(p Page[Agent]) ([]byte, error) { return json.Marshal(p) })
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(p); string(enc) != string(want) {
				t.Fatalf("encoded page differs:\n got %s\nwant %s", enc, want)
			}
		}
		return p
	}
	if p := list(t0); p.Total != 0 || p.Items == nil {
		t.Fatalf("empty: %+v", p)
	}
	if err := s.UpsertHeartbeats(ctx, []wire.Heartbeat{hb("a", "h1", "linux", t0)}); err != nil {
		t.Fatal(err)
	}
	if p := list(t0); p.Total != 1 || !p.Items[0].Online || p.Items[0].Hostname != "h1" {
		t.Fatalf("after insert: %+v", p)
	}
	if err := s.UpsertHeartbeats(ctx, []wire.Heartbeat{hb("a", "h2", "linux", t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if p := list(t0.Add(time.Second)); p.Items[0].Hostname != "h2" {
		t.Fatalf("after update: %+v", p)
	}
	if err := s.SetAgentGroups(ctx, "a", []string{"g1"}); err != nil {
		t.Fatal(err)
	}
	if p := list(t0.Add(time.Second)); len(p.Items[0].Groups) != 1 {
		t.Fatalf("after groups: %+v", p)
	}
	if p := list(t0.Add(2*time.Second + OnlineWindow)); p.Items[0].Online {
		t.Fatalf("online past the window: %+v", p)
	}
	if err := s.DeleteAgent(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if p := list(t0.Add(time.Second)); p.Total != 0 {
		t.Fatalf("after delete: %+v", p)
	}
}
