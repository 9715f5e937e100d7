package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func jsonUnmarshal(d []byte, v any) error { return json.Unmarshal(d, v) }

func TestJitterOffset(t *testing.T) {
	for _, tc := range []struct {
		pc, exec string
		jitter   time.Duration
	}{
		{"pc1", "e1", 0},
		{"pc1", "e1", time.Nanosecond},
		{"pc1", "e1", 30 * time.Second},
		{"pc2", "e1", 30 * time.Second},
		{"pc1", "e2", time.Hour},
	} {
		got := JitterOffset(tc.pc, tc.exec, tc.jitter)
		if got != JitterOffset(tc.pc, tc.exec, tc.jitter) {
			t.Fatalf("%+v: not deterministic", tc)
		}
		if got < 0 || (tc.jitter > 0 && got >= tc.jitter) || (tc.jitter <= 0 && got != 0) {
			t.Fatalf("%+v: offset %v out of [0, jitter)", tc, got)
		}
	}
	if JitterOffset("ab", "c", time.Hour) == JitterOffset("a", "bc", time.Hour) {
		t.Fatal("pc/exec boundary not part of the hash")
	}
	// Spread: 1000 pcs over 10 buckets of a 10s jitter; each bucket gets some.
	var buckets [10]int
	for i := range 1000 {
		off := JitterOffset("pc-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), "exec", 10*time.Second)
		buckets[off/time.Second]++
	}
	for i, n := range buckets {
		if n < 50 {
			t.Fatalf("bucket %d has %d of 1000: not spread", i, n)
		}
	}
}

func TestHeadTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    int
		writes []string
		want   string
		trunc  bool
	}{
		{"fits", 10, []string{"abc", "def"}, "abcdef", false},
		{"exact", 6, []string{"abcdef"}, "abcdef", false},
		{"one big write", 6, []string{"abcdefghij"}, "abc\n... [kanade: 4 bytes truncated] ...\nhij", true},
		{"many small writes", 4, []string{"a", "b", "c", "d", "e", "f", "g"}, "ab\n... [kanade: 3 bytes truncated] ...\nfg", true},
		{"tail wraps", 6, []string{"abc", "12", "34", "56", "7"}, "abc\n... [kanade: 4 bytes truncated] ...\n567", true},
	} {
		h := newHeadTail(tc.cap)
		for _, w := range tc.writes {
			h.Write([]byte(w))
		}
		if got := h.String(); got != tc.want || h.Truncated() != tc.trunc {
			t.Errorf("%s: got %q (truncated %v), want %q (%v)", tc.name, got, h.Truncated(), tc.want, tc.trunc)
		}
	}
}

func TestSeenStorePrunesAndPersists(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	s, err := openSeen(dir, time.Hour, true, now)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.MarkIfNew("old", now.Add(-2*time.Hour)); !ok {
		t.Fatal("first mark refused")
	}
	if ok, _ := s.MarkIfNew("new", now); !ok {
		t.Fatal("first mark refused")
	}
	if ok, _ := s.MarkIfNew("new", now); ok {
		t.Fatal("second mark accepted")
	}
	s.Close()
	s, err = openSeen(dir, time.Hour, true, now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, _ := s.MarkIfNew("new", now); ok {
		t.Fatal("id forgotten across reopen")
	}
	if _, ok := s.ids["old"]; ok {
		t.Fatal("expired id kept")
	}
}
