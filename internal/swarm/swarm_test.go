package swarm

import (
	"testing"
	"time"
)

func TestParseGroupsAndMembership(t *testing.T) {
	shares, err := ParseGroups("canary:1%, office:50%,all:1")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i := range 10000 {
		for _, g := range GroupsOf(i, shares) {
			counts[g]++
		}
	}
	want := map[string]int{"canary": 100, "office": 5000, "all": 10000}
	for g, n := range want {
		if counts[g] != n {
			t.Errorf("%s: %d members of 10000, want %d", g, counts[g], n)
		}
	}
	for _, bad := range []string{"x", "a:0%", "a:101%", "a.b:1%", "a:zz"} {
		if _, err := ParseGroups(bad); err == nil {
			t.Errorf("ParseGroups(%q): want an error", bad)
		}
	}
}

func TestParseRange(t *testing.T) {
	cases := map[string]Range{
		"":        {},
		"100ms":   {100 * time.Millisecond, 100 * time.Millisecond},
		"50ms-2s": {50 * time.Millisecond, 2 * time.Second},
	}
	for in, want := range cases {
		got, err := ParseRange(in)
		if err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseRange("2s-1s"); err == nil {
		t.Error("inverted range accepted")
	}
}

func TestCapacity(t *testing.T) {
	if got := Capacity(20000, 0); got != 9872 {
		t.Errorf("per-agent connections: capacity %d, want 9872", got)
	}
	if got := Capacity(20000, 8); got != 19736 {
		t.Errorf("shared connections: capacity %d, want 19736", got)
	}
}
