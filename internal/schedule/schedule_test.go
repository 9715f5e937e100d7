package schedule_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/schedule"
)

func cal(at string, days ...string) manifest.When {
	return manifest.When{Calendar: &manifest.Calendar{At: at, Days: days}}
}

func lower(t *testing.T, s manifest.Schedule) *schedule.Lowered {
	t.Helper()
	l, err := schedule.Lower(&s)
	if err != nil {
		t.Fatalf("lower: %v", err)
	}
	return l
}

func TestLowerShapes(t *testing.T) {
	every := manifest.Duration(24 * time.Hour)
	cases := []struct {
		name     string
		when     manifest.When
		cron     string
		mode     schedule.Mode
		cooldown time.Duration
		oneShot  bool
	}{
		{"per_pc once", manifest.When{PerPC: &manifest.Repeat{Once: true}}, "0 * * * * *", schedule.OncePerPC, 0, false},
		{"per_pc every", manifest.When{PerPC: &manifest.Repeat{Every: every}}, "0 * * * * *", schedule.OncePerPC, 24 * time.Hour, false},
		{"per_target once", manifest.When{PerTarget: &manifest.Repeat{Once: true}}, "0 * * * * *", schedule.OncePerTarget, 0, false},
		{"per_target every", manifest.When{PerTarget: &manifest.Repeat{Every: every}}, "0 * * * * *", schedule.OncePerTarget, 24 * time.Hour, false},
		{"calendar weekdays", cal("09:00", "mon-fri"), "0 0 9 * * 1-5", schedule.EveryTick, 0, false},
		{"calendar every day", cal("23:59"), "0 59 23 * * *", schedule.EveryTick, 0, false},
		{"calendar list", cal("7:05", "MON", "wed", "5", "sun", "sat-sun", "tue#2", "friL", "0"), "0 5 7 * * 1,3,5,0,6-7,2#2,5L,0", schedule.EveryTick, 0, false},
		{"calendar star", cal("09:00", "mon", "*"), "0 0 9 * * *", schedule.EveryTick, 0, false},
		{"one-shot", cal("2026-06-10 09:00"), "0 0 9 10 6 * 2026", schedule.EveryTick, 0, true},
		{"one-shot T", cal("2026-06-10T09:30"), "0 30 9 10 6 * 2026", schedule.EveryTick, 0, true},
		{"one-shot slash", cal("2026/12/31 23:59"), "0 59 23 31 12 * 2026", schedule.EveryTick, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := lower(t, manifest.Schedule{When: c.when, TZ: "utc"})
			if l.Cron != c.cron || l.Mode != c.mode || l.Cooldown != c.cooldown || l.OneShot != c.oneShot {
				t.Fatalf("got %q %s %v %v, want %q %s %v %v", l.Cron, l.Mode, l.Cooldown, l.OneShot, c.cron, c.mode, c.cooldown, c.oneShot)
			}
		})
	}
}

func TestLowerErrors(t *testing.T) {
	cases := []struct {
		name string
		s    manifest.Schedule
		want []string // "path: message substring"
	}{
		{"no when", manifest.Schedule{}, []string{"when: must set exactly one"}},
		{"two whens", manifest.Schedule{When: manifest.When{PerPC: &manifest.Repeat{Once: true}, Calendar: &manifest.Calendar{At: "09:00"}}}, []string{"when: must set exactly one of per_pc, per_target, calendar (got per_pc, calendar)"}},
		{"empty repeat", manifest.Schedule{When: manifest.When{PerTarget: &manifest.Repeat{}}}, []string{"when.per_target: want"}},
		{"bad days collected", manifest.Schedule{When: cal("09:00", "mon", "funday", "tue#0", "8L")}, []string{
			`when.calendar.days[1]: invalid day token "funday"`,
			`when.calendar.days[2]: invalid day token "tue#0"`,
			`when.calendar.days[3]: invalid day token "8L"`,
		}},
		{"one-shot with days", manifest.Schedule{When: cal("2026-06-10 09:00", "mon")}, []string{"when.calendar.days: must be empty"}},
		{"bad at", manifest.Schedule{When: cal("noon")}, []string{`when.calendar.at: invalid at "noon"`}},
		{"bad tz", manifest.Schedule{When: cal("09:00"), TZ: "Mars/Olympus"}, []string{`tz: unknown time zone "Mars/Olympus"`}},
		{"bad bounds", manifest.Schedule{When: cal("09:00"), Active: &manifest.Active{From: "tomorrow", Until: "2026-13-01"}}, []string{
			`active.from: invalid time "tomorrow"`, `active.until: invalid time "2026-13-01"`,
		}},
		{"from == until", manifest.Schedule{When: cal("09:00"), TZ: "utc", Active: &manifest.Active{From: "2026-12-01", Until: "2026-12-01T00:00:00Z"}}, []string{"active: from must be before until"}},
		{"from > until", manifest.Schedule{When: cal("09:00"), Active: &manifest.Active{From: "2027-01-01", Until: "2026-12-01"}}, []string{"active: from must be before until"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := schedule.Lower(&c.s)
			errs, ok := err.(manifest.Errors)
			if !ok {
				t.Fatalf("want manifest.Errors, got %T %v", err, err)
			}
			if len(errs) != len(c.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(c.want))
			}
			for i, w := range c.want {
				if got := errs[i].Path + ": " + errs[i].Message; !strings.HasPrefix(got, w) {
					t.Errorf("error %d = %q, want prefix %q", i, got, w)
				}
			}
		})
	}
}

func TestDaysTokens(t *testing.T) {
	for _, tok := range []string{"mon", "SUN", "Fri", "0", "7", "*", "mon-fri", "1-5", "sat-sun", "tue#2", "TUE#5", "friL", "FRIL", "7L", "sun#1"} {
		if _, err := schedule.Lower(&manifest.Schedule{When: cal("09:00", tok)}); err != nil {
			t.Errorf("%q rejected: %v", tok, err)
		}
	}
	for _, tok := range []string{"funday", "mon-", "-fri", "tue#0", "tue#6", "mon-fri#2", "L", "8L", "8", "", "fri-mon", "mon,tue", "tue#", "#2", "1-5-6"} {
		_, err := schedule.Lower(&manifest.Schedule{When: cal("09:00", tok)})
		if err == nil || !strings.Contains(err.Error(), `"`+tok+`"`) {
			t.Errorf("%q: want an error quoting the token, got %v", tok, err)
		}
	}
}

func TestAtForms(t *testing.T) {
	for _, at := range []string{"09:00", "9:00", "00:00", "23:59", "2026-06-10 09:00", "2026-06-10T09:00", "2026/06/10 09:00", "2028-02-29 12:00"} {
		if _, err := schedule.Lower(&manifest.Schedule{When: cal(at)}); err != nil {
			t.Errorf("%q rejected: %v", at, err)
		}
	}
	for _, at := range []string{"25:00", "24:00", "09:60", "9", "noon", "2026-13-01 09:00", "2026-02-30 09:00", "2027-02-29 09:00", "2026-06-10", "2026-06/10 09:00", "2026/06/10T09:00", "", "09:00:00", "2026-6-1 09:00"} {
		if _, err := schedule.Lower(&manifest.Schedule{When: cal(at)}); err == nil {
			t.Errorf("%q accepted", at)
		}
	}
}

// countFires drives Due minute by minute over [from, from+d) like the
// scheduler does and returns the fire instants.
func countFires(l *schedule.Lowered, from time.Time, d time.Duration) []time.Time {
	var out []time.Time
	for t := from; t.Before(from.Add(d)); t = t.Add(time.Minute) {
		if l.Due(t) {
			out = append(out, t)
		}
	}
	return out
}

// onDay keeps the instants whose wall-clock date in l.Loc is day.
func onDay(l *schedule.Lowered, ts []time.Time, day string) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if t.In(l.Loc).Format("2006-01-02") == day {
			out = append(out, t)
		}
	}
	return out
}

func TestDST(t *testing.T) {
	cases := []struct {
		tz, day, at string
		fires       int
		firstUTC    string
	}{
		// Spring forward: 02:30 does not exist that day, so it never fires.
		{"America/New_York", "2026-03-08", "02:30", 0, ""},
		{"Europe/Berlin", "2026-03-29", "02:30", 0, ""},
		// Neighbours of the gap still fire once.
		{"America/New_York", "2026-03-08", "01:59", 1, "2026-03-08T06:59:00Z"},
		{"America/New_York", "2026-03-08", "03:00", 1, "2026-03-08T07:00:00Z"},
		{"Europe/Berlin", "2026-03-29", "03:00", 1, "2026-03-29T01:00:00Z"},
		// Fall back: 01:30 (NY) / 02:30 (Berlin) happen twice; fire the earlier.
		{"America/New_York", "2026-11-01", "01:30", 1, "2026-11-01T05:30:00Z"},
		{"Europe/Berlin", "2026-10-25", "02:30", 1, "2026-10-25T00:30:00Z"},
		{"America/New_York", "2026-11-01", "01:00", 1, "2026-11-01T05:00:00Z"},
		{"Europe/Berlin", "2026-10-25", "02:59", 1, "2026-10-25T00:59:00Z"},
	}
	for _, c := range cases {
		t.Run(c.tz+" "+c.day+" "+c.at, func(t *testing.T) {
			l := lower(t, manifest.Schedule{When: cal(c.at), TZ: c.tz})
			start, _ := time.ParseInLocation("2006-01-02", c.day, l.Loc)
			fires := onDay(l, countFires(l, start.Add(-2*time.Hour), 30*time.Hour), c.day)
			if len(fires) != c.fires {
				t.Fatalf("fires %v, want %d", fires, c.fires)
			}
			if c.fires == 1 && fires[0].UTC().Format(time.RFC3339) != c.firstUTC {
				t.Fatalf("fired at %s, want %s", fires[0].UTC().Format(time.RFC3339), c.firstUTC)
			}
			next := onDay(l, l.Next(start.Add(-2*time.Hour), 5), c.day)
			if len(next) != c.fires || (c.fires == 1 && !next[0].Equal(fires[0])) {
				t.Fatalf("Next %v disagrees with Due %v", next, fires)
			}
		})
	}
}

// Per-minute polling over a transition: every real minute fires except
// the repeated hour's second pass; nothing fires twice at one wall clock.
func TestDSTEveryMinute(t *testing.T) {
	for _, c := range []struct{ tz, spring, fall string }{
		{"America/New_York", "2026-03-08", "2026-11-01"},
		{"Europe/Berlin", "2026-03-29", "2026-10-25"},
	} {
		l := lower(t, manifest.Schedule{When: manifest.When{PerPC: &manifest.Repeat{Once: true}}, TZ: c.tz})
		for _, day := range []string{c.spring, c.fall} {
			start, _ := time.ParseInLocation("2006-01-02", day, l.Loc)
			fires := onDay(l, countFires(l, start.Add(-time.Hour), 27*time.Hour), day)
			seen := map[string]bool{}
			for _, f := range fires {
				k := f.In(l.Loc).Format("2006-01-02 15:04")
				if seen[k] {
					t.Fatalf("%s %s: wall clock %s fired twice", c.tz, day, k)
				}
				seen[k] = true
			}
			// Spring: 23 real hours, all fire. Fall: 25 real hours, the
			// repeated hour fires only once.
			want := 24 * 60
			if day == c.spring {
				want -= 60
			}
			if len(fires) != want {
				t.Fatalf("%s %s: %d fires, want %d", c.tz, day, len(fires), want)
			}
		}
	}
}

func TestActive(t *testing.T) {
	l := lower(t, manifest.Schedule{When: cal("09:00"), TZ: "Asia/Tokyo",
		Active: &manifest.Active{From: "2026-12-01", Until: "2027-01-01T00:00:00Z"}})
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for s, want := range map[string]bool{
		"2026-11-30T14:59:59Z": false, // 23:59:59 JST, before the bare-date midnight
		"2026-11-30T15:00:00Z": true,  // midnight JST: from is inclusive
		"2026-12-31T23:59:59Z": true,
		"2027-01-01T00:00:00Z": false, // until is exclusive, in its own offset
	} {
		if got := l.Active(at(s)); got != want {
			t.Errorf("Active(%s) = %v, want %v", s, got, want)
		}
	}
	next := l.Next(at("2026-01-01T00:00:00Z"), 100)
	if len(next) != 31 || next[0].UTC().Format(time.RFC3339) != "2026-12-01T00:00:00Z" {
		t.Fatalf("Next in window: %d fires starting %v", len(next), next)
	}
	open := lower(t, manifest.Schedule{When: cal("09:00"), Active: &manifest.Active{Until: "2026-01-01"}})
	if !open.Active(time.Time{}) || open.Active(at("2026-01-02T00:00:00Z")) {
		t.Fatal("open from bound")
	}
}

func TestOneShot(t *testing.T) {
	l := lower(t, manifest.Schedule{When: cal("2026-06-10 09:00"), TZ: "Europe/Berlin"})
	want := time.Date(2026, 6, 10, 7, 0, 0, 0, time.UTC)
	fires := countFires(l, want.Add(-48*time.Hour), 96*time.Hour)
	if len(fires) != 1 || !fires[0].Equal(want) {
		t.Fatalf("fires %v", fires)
	}
	if l.Due(want.AddDate(1, 0, 0)) {
		t.Fatal("fired again a year later")
	}
	if n := l.Next(want.Add(-time.Hour), 3); len(n) != 1 || !n[0].Equal(want) {
		t.Fatalf("Next = %v", n)
	}
	if n := l.Next(want, 3); len(n) != 0 {
		t.Fatalf("Next after the shot = %v", n)
	}
	if l.PastOneShot(want) || l.PastOneShot(want.Add(-time.Hour)) || !l.PastOneShot(want.Add(time.Minute)) {
		t.Fatal("PastOneShot boundaries")
	}
	far := lower(t, manifest.Schedule{When: cal("2040-01-01 00:00"), TZ: "utc"})
	if far.PastOneShot(want) {
		t.Fatal("a one-shot 14 years ahead is not past")
	}
	recurring := lower(t, manifest.Schedule{When: cal("09:00")})
	if recurring.PastOneShot(want) {
		t.Fatal("recurring is never a past one-shot")
	}
}

func TestNextCalendar(t *testing.T) {
	l := lower(t, manifest.Schedule{When: cal("09:00", "tue#2", "friL"), TZ: "utc"})
	got := l.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 4)
	var s []string
	for _, g := range got {
		s = append(s, g.Format("2006-01-02 Mon 15:04"))
	}
	want := "2026-01-13 Tue 09:00,2026-01-30 Fri 09:00,2026-02-10 Tue 09:00,2026-02-27 Fri 09:00"
	if strings.Join(s, ",") != want {
		t.Fatalf("Next = %v, want %v", s, want)
	}
}
