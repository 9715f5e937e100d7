package timing

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func fromCron(t *testing.T, cron string) *Lowered {
	t.Helper()
	segs := strings.Fields(cron)
	if len(segs) == 6 {
		segs = append(segs, "*")
	}
	return &Lowered{Cron: cron, Loc: time.UTC, segs: segs}
}

// SPEC §3.3: with both day-of-month and day-of-week restricted, both must
// hold. gronx.IsDue would OR them; this proves our evaluation ANDs.
func TestDayOfMonthAndWeekdayAND(t *testing.T) {
	l := fromCron(t, "0 0 9 13 * 5") // Friday the 13th only
	fires := l.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3)
	var got []string
	for _, f := range fires {
		got = append(got, f.Format("2006-01-02 Mon"))
	}
	if want := "2026-02-13 Fri,2026-03-13 Fri,2026-11-13 Fri"; strings.Join(got, ",") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if l.Due(time.Date(2026, 1, 13, 9, 0, 0, 0, time.UTC)) { // a Tuesday the 13th
		t.Fatal("DOM alone fired")
	}
	if l.Due(time.Date(2026, 1, 16, 9, 0, 0, 0, time.UTC)) { // a Friday the 16th
		t.Fatal("DOW alone fired")
	}
}

func TestNextTerminates(t *testing.T) {
	l := fromCron(t, "0 0 9 31 2 *") // never
	if got := l.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"mon", "1-5", "tue#2", "friL", "*", "funday", "mon-fri#2", "L", "8L", "sat-sun", "7#5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		d, err := ParseDay(tok)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid day token") {
				t.Fatalf("unclear error %v", err)
			}
			return
		}
		l, probs := Lower(Input{TZ: "utc", Calendar: &Calendar{At: "09:00", Days: []string{tok}}})
		if len(probs) > 0 || !strings.HasSuffix(l.Cron, " "+d) {
			t.Fatalf("%q parsed to %q but lowering gave %v %v", tok, d, l, probs)
		}
		if next := l.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1); len(next) != 1 {
			t.Fatalf("%q (%s) never fires", tok, d)
		}
	})
}

func FuzzParseAt(f *testing.F) {
	for _, s := range []string{"09:00", "2026-06-10 09:00", "2026/06/10 09:00", "2026-06-10T09:00", "25:00", "noon", "9", "2026-13-01 00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAt(s)
		if err != nil {
			if utf8.ValidString(s) && !strings.Contains(err.Error(), "invalid at") {
				t.Fatalf("unclear error %v", err)
			}
			return
		}
		if a.Hour > 23 || a.Minute > 59 || (a.HasDate && !validDate(a.Year, a.Month, a.Day)) {
			t.Fatalf("%q accepted as %+v", s, a)
		}
		if _, probs := Lower(Input{TZ: "utc", Calendar: &Calendar{At: s}}); len(probs) > 0 {
			t.Fatalf("%q parsed but lowering failed: %v", s, probs)
		}
	})
}
