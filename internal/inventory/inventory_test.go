package inventory

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestCollectReportsTheBasics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	facts, err := Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"os", "cpu", "memory"} {
		if _, ok := facts[k]; !ok {
			t.Errorf("fact %q missing: %v", k, facts)
		}
	}
	if m, _ := facts["memory"].(map[string]any); m["total_bytes"] == uint64(0) {
		t.Errorf("memory total is zero: %v", m)
	}
	for _, d := range asList(facts["disks"]) {
		if pseudoFS[d["fstype"].(string)] {
			t.Errorf("pseudo file system listed: %v", d)
		}
	}
	if _, err := json.Marshal(facts); err != nil {
		t.Fatalf("facts must encode as JSON: %v", err)
	}
}

func asList(v any) []map[string]any {
	l, _ := v.([]map[string]any)
	return l
}

func TestStripPrefix(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.7/24": "192.0.2.7", "fe80::1/64": "fe80::1", "odd": "odd"} {
		if got := stripPrefix(in); got != want {
			t.Errorf("stripPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
