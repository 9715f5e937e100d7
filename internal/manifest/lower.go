package manifest

import (
	"github.com/kanade-dev/kanade/internal/schedule/timing"
)

// TimingInput extracts what decides when s fires, for the timing package.
func (s *Schedule) TimingInput() timing.Input {
	in := timing.Input{TZ: s.TZ}
	in.PerPC = repeatInput(s.When.PerPC)
	in.PerTarget = repeatInput(s.When.PerTarget)
	if c := s.When.Calendar; c != nil {
		in.Calendar = &timing.Calendar{At: c.At, Days: c.Days}
	}
	if a := s.Active; a != nil {
		in.Active = &timing.Active{From: a.From, Until: a.Until}
	}
	return in
}

func repeatInput(r *Repeat) *timing.Repeat {
	if r == nil {
		return nil
	}
	return &timing.Repeat{Once: r.Once, Every: r.Every.Std()}
}

// LowerSchedule lowers the timing part of s (when, tz, active); the
// returned Errors carry manifest paths. internal/schedule.Lower wraps it.
func LowerSchedule(s *Schedule) (*timing.Lowered, Errors) {
	l, probs := timing.Lower(s.TimingInput())
	if len(probs) == 0 {
		return l, nil
	}
	errs := make(Errors, len(probs))
	for i, p := range probs {
		errs[i] = FieldError{Path: p.Path, Message: p.Message}
	}
	return nil, errs
}
