package memtrim

import (
	"context"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name          string
		now           Usage
		before, after uint64
		want          bool
	}{
		{"nothing to return", Usage{Free: 1 * mib, Stacks: 160 * mib}, 0, 0, false},
		{"free heap after a burst", Usage{Free: MinFree, Stacks: 160 * mib}, 0, 0, true},
		{"stacks still shrinking", Usage{Free: 0, Stacks: 238 * mib}, 453 * mib, 238 * mib, true},
		{"stacks shrank by less than a tenth", Usage{Free: 0, Stacks: 80 * mib}, 84 * mib, 80 * mib, false},
		{"stacks did not shrink", Usage{Free: 0, Stacks: 80 * mib}, 80 * mib, 80 * mib, false},
	}
	for _, c := range cases {
		if got := Due(c.now, c.before, c.after); got != c.want {
			t.Errorf("%s: Due = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReadSeesTheRuntime(t *testing.T) {
	if u := Read(); u.Stacks == 0 {
		t.Fatalf("stacks reported as 0: %+v", u)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, nil)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
