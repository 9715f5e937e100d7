// Package schedule turns a schedule manifest into something that ticks:
// a cron expression in the schedule's zone, a fire mode and a cooldown
// (SPEC §3.3). The work is done in internal/schedule/timing, which
// internal/manifest also uses for validation; this package is the entry
// point the scheduler and the agent use.
package schedule

import (
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/schedule/timing"
)

// Mode says how a tick turns into dispatches (SPEC §4.4).
type Mode = timing.Mode

const (
	EveryTick     = timing.EveryTick
	OncePerPC     = timing.OncePerPC
	OncePerTarget = timing.OncePerTarget
)

// Lowered is a schedule ready to tick; see its Due, Next, Active and
// PastOneShot methods.
type Lowered = timing.Lowered

// Lower lowers s per the SPEC §3.3 table. Errors are manifest.Errors with
// the path of every bad field; ids, target and runs_on are not its concern
// (manifest.ValidateSchedule checks those and calls this too).
func Lower(s *manifest.Schedule) (*Lowered, error) {
	l, errs := manifest.LowerSchedule(s)
	if len(errs) > 0 {
		return nil, errs
	}
	return l, nil
}
