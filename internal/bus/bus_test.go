package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/kanade-dev/kanade/internal/bus"
	"github.com/kanade-dev/kanade/internal/testutil"
)

// Ensure must be idempotent: every server replica runs it at start.
func TestEnsureIdempotent(t *testing.T) {
	b := testutil.RunJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := bus.Ensure(ctx, b.JS, bus.Config{}); err != nil {
			t.Fatalf("ensure #%d: %v", i+2, err)
		}
	}
	for _, sc := range bus.Streams(bus.Config{}) {
		s, err := b.JS.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", sc.Name, err)
		}
		if got := s.CachedInfo().Config.Subjects; len(got) != 1 || got[0] != sc.Subjects[0] {
			t.Errorf("stream %s subjects = %v", sc.Name, got)
		}
	}
	for _, kc := range bus.Buckets(bus.Config{}) {
		if _, err := b.JS.KeyValue(ctx, kc.Bucket); err != nil {
			t.Errorf("bucket %s: %v", kc.Bucket, err)
		}
	}
}
