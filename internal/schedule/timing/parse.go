package timing

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var dayNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// singleDay reads one day name or number 0..7 (7 = Sunday, as in cron).
func singleDay(s string) (int, bool) {
	if n, ok := dayNames[s]; ok {
		return n, true
	}
	if len(s) == 1 && s[0] >= '0' && s[0] <= '7' {
		return int(s[0] - '0'), true
	}
	return 0, false
}

// ParseDay turns one `days` token into its numeric cron day-of-week form,
// because gronx only maps names when the whole expression is upper-cased
// and numbers are unambiguous for every cron library.
func ParseDay(tok string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(tok))
	bad := fmt.Errorf("invalid day token %q", tok)
	switch {
	case t == "*":
		return "*", nil
	case strings.Contains(t, "#"):
		d, n, ok := strings.Cut(t, "#")
		day, dayOK := singleDay(d)
		if !ok || !dayOK || len(n) != 1 || n[0] < '1' || n[0] > '5' {
			return "", bad
		}
		return fmt.Sprintf("%d#%c", day%7, n[0]), nil
	case strings.HasSuffix(t, "l"):
		day, ok := singleDay(strings.TrimSuffix(t, "l"))
		if !ok {
			return "", bad
		}
		return fmt.Sprintf("%dL", day%7), nil
	case strings.Contains(t, "-"):
		return parseRange(t, bad)
	}
	day, ok := singleDay(t)
	if !ok {
		return "", bad
	}
	return strconv.Itoa(day % 7), nil
}

// parseRange keeps Sunday at the end of a range as 7 so "sat-sun" reads
// as Saturday through Sunday rather than a backwards range.
func parseRange(t string, bad error) (string, error) {
	a, b, _ := strings.Cut(t, "-")
	start, okA := singleDay(a)
	end, okB := singleDay(b)
	if !okA || !okB {
		return "", bad
	}
	if start == 7 {
		start = 0
	}
	if end == 0 && start > 0 {
		end = 7
	}
	if start > end {
		return "", fmt.Errorf("invalid day token %q: range runs backwards", strings.TrimSpace(t))
	}
	return fmt.Sprintf("%d-%d", start, end), nil
}

// At is a parsed calendar `at`: a time of day, optionally on one date.
type At struct {
	HasDate          bool
	Year, Month, Day int
	Hour, Minute     int
}

var (
	reClock = regexp.MustCompile(`^(\d{1,2}):(\d{2})$`)
	reDate  = regexp.MustCompile(`^(\d{4})([-/])(\d{2})([-/])(\d{2})([ T])(\d{1,2}):(\d{2})$`)
)

// ParseAt reads `HH:MM` or a one-shot `YYYY-MM-DD HH:MM` (also with `T`
// or with slashes).
func ParseAt(s string) (At, error) {
	t := strings.TrimSpace(s)
	bad := fmt.Errorf("invalid at %q (want HH:MM or YYYY-MM-DD HH:MM)", s)
	var a At
	var hh, mm string
	if m := reClock.FindStringSubmatch(t); m != nil {
		hh, mm = m[1], m[2]
	} else if m := reDate.FindStringSubmatch(t); m != nil {
		if m[2] != m[4] || (m[2] == "/" && m[6] == "T") {
			return At{}, bad
		}
		a.HasDate = true
		a.Year, _ = strconv.Atoi(m[1])
		a.Month, _ = strconv.Atoi(m[3])
		a.Day, _ = strconv.Atoi(m[5])
		hh, mm = m[7], m[8]
	} else {
		return At{}, bad
	}
	a.Hour, _ = strconv.Atoi(hh)
	a.Minute, _ = strconv.Atoi(mm)
	if a.Hour > 23 || a.Minute > 59 {
		return At{}, bad
	}
	if a.HasDate && !validDate(a.Year, a.Month, a.Day) {
		return At{}, fmt.Errorf("invalid at %q: no such date", s)
	}
	return a, nil
}

// validDate rejects what time.Date would silently normalise (Feb 30, month 13).
func validDate(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Day() == d && int(t.Month()) == m
}

// LoadTZ resolves a schedule tz: "" and "local" are the process zone.
func LoadTZ(name string) (*time.Location, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "local":
		return time.Local, nil
	case "utc":
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(strings.TrimSpace(name))
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

var reBareDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// ParseBound reads an active bound: RFC 3339 keeps its own offset, a bare
// date is midnight in loc.
func ParseBound(s string, loc *time.Location) (time.Time, error) {
	t := strings.TrimSpace(s)
	if reBareDate.MatchString(t) {
		v, err := time.ParseInLocation("2006-01-02", t, loc)
		if err == nil {
			return v, nil
		}
	} else if v, err := time.Parse(time.RFC3339, t); err == nil {
		return v, nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want RFC 3339 or YYYY-MM-DD)", s)
}
