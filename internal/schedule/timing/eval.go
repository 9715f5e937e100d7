package timing

import (
	"time"

	"github.com/adhocore/gronx"
)

// horizon bounds Next so a cron that can never match again (Feb 30 is
// impossible to write, but a window or a DOM+DOW pair may be) terminates.
const horizon = 5

// Active reports whether t lies in the half-open window [From, Until).
func (l *Lowered) Active(t time.Time) bool {
	return (l.From.IsZero() || !t.Before(l.From)) && (l.Until.IsZero() || t.Before(l.Until))
}

// Due reports whether the tick minute t fires. Wall-clock minutes that a
// DST gap skips never occur, so they never fire; a minute a DST fold
// repeats fires only on its first (earlier) occurrence.
func (l *Lowered) Due(t time.Time) bool {
	lt := t.In(l.Loc)
	if l.repeated(lt) {
		return false
	}
	return l.match(wall(lt), 0, 1, 2, 3, 4, 5, 6)
}

// repeated reports whether lt is the second occurrence of its wall-clock
// time: within the first (old offset - new offset) after an offset drop.
func (l *Lowered) repeated(lt time.Time) bool {
	start, _ := lt.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, cur := lt.Zone()
	_, prev := start.Add(-time.Nanosecond).In(l.Loc).Zone()
	drop := time.Duration(prev-cur) * time.Second
	return drop > 0 && lt.Sub(start) < drop
}

// wall carries lt's wall clock (to the minute) in UTC so the cron check
// sees the schedule's local fields without any zone arithmetic of its own.
func wall(lt time.Time) time.Time {
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), 0, 0, time.UTC)
}

// match checks the given cron fields with AND semantics. gronx's own
// IsDue ORs day-of-month and day-of-week when both are restricted (Vixie
// cron); SPEC §3.3 wants AND, so we use its per-field checker directly.
func (l *Lowered) match(w time.Time, positions ...int) bool {
	c := &gronx.SegmentChecker{}
	c.SetRef(w)
	for _, pos := range positions {
		seg := l.segs[pos]
		if seg == "*" || seg == "?" {
			continue
		}
		if ok, err := c.CheckDue(seg, pos); err != nil || !ok {
			return false
		}
	}
	return true
}

// Next lists up to n fire instants strictly after the minute of after,
// inside the active window, with Due's DST rules; a past one-shot yields none.
func (l *Lowered) Next(after time.Time, n int) []time.Time {
	if n <= 0 {
		return nil
	}
	t := after.Truncate(time.Minute).Add(time.Minute)
	if !l.From.IsZero() && t.Before(l.From) {
		t = ceilMinute(l.From)
	}
	end := t.AddDate(horizon, 0, 0)
	if l.OneShot {
		a := l.oneShot
		// Search only around the one-shot's date (±1 day covers any offset).
		first := time.Date(a.Year, time.Month(a.Month), a.Day-1, 0, 0, 0, 0, l.Loc)
		end = time.Date(a.Year, time.Month(a.Month), a.Day+2, 0, 0, 0, 0, l.Loc)
		if first.After(t) {
			t = first
		}
	}
	if !l.Until.IsZero() && l.Until.Before(end) {
		end = l.Until
	}
	var out []time.Time
	for t.Before(end) && len(out) < n {
		lt := t.In(l.Loc)
		w := wall(lt)
		switch {
		case !l.match(w, 3, 4, 5, 6):
			t = l.advance(t, time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, l.Loc))
		case !l.match(w, 2):
			t = l.advance(t, t.Add(time.Duration(60-lt.Minute())*time.Minute))
		default:
			if l.Due(t) {
				out = append(out, t)
			}
			t = t.Add(time.Minute)
		}
	}
	return out
}

// advance jumps to next but never past the end of the current zone
// period: across a transition the wall clock moves by other than the
// elapsed time, and the jump target computed before it could overshoot.
func (l *Lowered) advance(t, next time.Time) time.Time {
	if _, zoneEnd := t.In(l.Loc).ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(next) {
		next = zoneEnd
	}
	next = ceilMinute(next)
	if !next.After(t) {
		next = t.Add(time.Minute)
	}
	return next
}

func ceilMinute(t time.Time) time.Time {
	if r := t.Truncate(time.Minute); r.Before(t) {
		return r.Add(time.Minute)
	}
	return t
}

// PastOneShot reports a one-shot that will never fire again from now on
// (its minute passed, falls in a DST gap, or lies outside the window).
func (l *Lowered) PastOneShot(now time.Time) bool {
	return l.OneShot && len(l.Next(now.Truncate(time.Minute).Add(-time.Minute), 1)) == 0
}
