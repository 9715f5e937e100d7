// Package timing lowers a schedule's `when`, `tz` and `active` into a cron
// expression plus a fire mode, and evaluates it with DST rules (SPEC §3.3).
//
// It depends on nothing in kanade so that internal/manifest can validate
// schedules with it while internal/schedule (which takes *manifest.Schedule)
// re-exports it; the two would otherwise import each other.
package timing

import (
	"fmt"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// Mode says how a tick turns into dispatches (SPEC §4.4).
type Mode string

const (
	EveryTick     Mode = "every_tick"
	OncePerPC     Mode = "once_per_pc"
	OncePerTarget Mode = "once_per_target"
)

// EveryMinute is the cron of the per_pc and per_target shapes: they poll
// and let the fire policy decide.
const EveryMinute = "0 * * * * *"

// Problem is one located error; callers convert it to their own type.
type Problem struct {
	Path    string
	Message string
}

// Repeat mirrors manifest.Repeat: "once" or {every: D}.
type Repeat struct {
	Once  bool
	Every time.Duration
}

// Input is the part of a schedule that decides when it fires.
type Input struct {
	PerPC, PerTarget *Repeat
	Calendar         *Calendar
	TZ               string
	Active           *Active
}

type Calendar struct {
	At   string
	Days []string
}

type Active struct {
	From, Until string
}

// Lowered is a schedule ready to tick.
type Lowered struct {
	Cron     string
	Mode     Mode
	Cooldown time.Duration
	Loc      *time.Location
	OneShot  bool
	// From and Until bound the active window [From, Until); zero = open.
	From, Until time.Time

	segs    []string // 7 cron fields: sec min hour dom month dow year
	oneShot At
}

// Lower checks every timing field and collects all problems found.
func Lower(in Input) (*Lowered, []Problem) {
	var probs []Problem
	add := func(path string, err error) { probs = append(probs, Problem{path, err.Error()}) }

	l := &Lowered{Loc: time.UTC}
	if loc, err := LoadTZ(in.TZ); err != nil {
		add("tz", err)
	} else {
		l.Loc = loc
	}
	lowerWhen(in, l, add)
	lowerActive(in.Active, l, add)
	if len(probs) > 0 {
		return nil, probs
	}
	l.segs = strings.Fields(l.Cron)
	if len(l.segs) == 6 {
		l.segs = append(l.segs, "*")
	}
	if !gronx.IsValid(l.Cron) {
		// Unreachable by construction; kept so a parser bug surfaces as
		// a validation error instead of a schedule that silently never fires.
		return nil, []Problem{{"when", fmt.Sprintf("internal error: cron %q rejected", l.Cron)}}
	}
	return l, nil
}

func lowerWhen(in Input, l *Lowered, add func(string, error)) {
	var set []string
	if in.PerPC != nil {
		set = append(set, "per_pc")
	}
	if in.PerTarget != nil {
		set = append(set, "per_target")
	}
	if in.Calendar != nil {
		set = append(set, "calendar")
	}
	if len(set) != 1 {
		got := "none"
		if len(set) > 1 {
			got = strings.Join(set, ", ")
		}
		add("when", fmt.Errorf("must set exactly one of per_pc, per_target, calendar (got %s)", got))
		return
	}
	switch {
	case in.PerPC != nil:
		lowerRepeat("when.per_pc", OncePerPC, in.PerPC, l, add)
	case in.PerTarget != nil:
		lowerRepeat("when.per_target", OncePerTarget, in.PerTarget, l, add)
	default:
		lowerCalendar(in.Calendar, l, add)
	}
}

func lowerRepeat(path string, mode Mode, r *Repeat, l *Lowered, add func(string, error)) {
	if !r.Once && r.Every <= 0 {
		add(path, fmt.Errorf(`want "once" or {every: D} with D > 0`))
		return
	}
	l.Cron, l.Mode = EveryMinute, mode
	if !r.Once {
		l.Cooldown = r.Every
	}
}

func lowerCalendar(c *Calendar, l *Lowered, add func(string, error)) {
	l.Mode = EveryTick
	at, err := ParseAt(c.At)
	if err != nil {
		add("when.calendar.at", err)
	}
	if err == nil && at.HasDate {
		if len(c.Days) > 0 {
			add("when.calendar.days", fmt.Errorf("must be empty when at names a date (one-shot)"))
			return
		}
		l.OneShot, l.oneShot = true, at
		l.Cron = fmt.Sprintf("0 %d %d %d %d * %d", at.Minute, at.Hour, at.Day, at.Month, at.Year)
		return
	}
	dow := make([]string, 0, len(c.Days))
	star := len(c.Days) == 0
	for i, tok := range c.Days {
		d, err := ParseDay(tok)
		if err != nil {
			add(fmt.Sprintf("when.calendar.days[%d]", i), err)
			continue
		}
		star = star || d == "*"
		dow = append(dow, d)
	}
	if star {
		dow = []string{"*"}
	}
	if err == nil {
		l.Cron = fmt.Sprintf("0 %d %d * * %s", at.Minute, at.Hour, strings.Join(dow, ","))
	}
}

func lowerActive(a *Active, l *Lowered, add func(string, error)) {
	if a == nil {
		return
	}
	var err error
	if strings.TrimSpace(a.From) != "" {
		if l.From, err = ParseBound(a.From, l.Loc); err != nil {
			add("active.from", err)
		}
	}
	if strings.TrimSpace(a.Until) != "" {
		if l.Until, err = ParseBound(a.Until, l.Loc); err != nil {
			add("active.until", err)
		}
	}
	if !l.From.IsZero() && !l.Until.IsZero() && !l.From.Before(l.Until) {
		add("active", fmt.Errorf("from must be before until (the window is [from, until))"))
	}
}
