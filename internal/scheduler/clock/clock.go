// Package clock lets the schedulers (backend and agent) run on real time
// in production and on a hand-driven time in tests, so a test can step
// through days of schedule minutes without sleeping.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock is the time source of a ticking loop.
type Clock interface {
	Now() time.Time
	// Timer fires once the clock has advanced by d; stop abandons it, so
	// a loop that woke for another reason leaves nothing behind.
	Timer(d time.Duration) (c <-chan time.Time, stop func())
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Fake only moves when told to. Timers whose deadline is reached fire
// during Set/Advance, so a loop blocked on one wakes deterministically.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake starts a fake clock at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) Timer(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch, func() {}
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch, func() { f.remove(ch) }
}

func (f *Fake) remove(ch chan time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiters = slices.DeleteFunc(f.waiters, func(w waiter) bool { return w.ch == ch })
}

// Advance moves the clock forward by d.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards) and wakes due waiters.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		return
	}
	f.now = t
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(t) {
			keep = append(keep, w)
			continue
		}
		w.ch <- t
	}
	f.waiters = keep
}

// Waiters reports how many timers are pending; tests use it to know
// a loop is parked before they advance time.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}
