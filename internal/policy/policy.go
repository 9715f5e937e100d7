// Package policy decides what one scheduler tick fires (SPEC §4.4): which
// PCs are armed given their completions, and which of those to drop
// because a dispatch is probably still in flight. Pure functions, shared
// by the backend scheduler and the agent's local ticker.
package policy

import (
	"time"

	"github.com/kanade-dev/kanade/internal/schedule"
)

// Action is what a tick did; the values are stored in schedule_ticks.
type Action string

const (
	FireWhole Action = "fired_whole"
	FirePCs   Action = "fired_pcs"
	Skip      Action = "skipped"
)

// Reasons recorded with a decision.
const (
	ReasonEveryTick   = "every_tick"
	ReasonArmed       = "armed"
	ReasonAllDone     = "all_done"
	ReasonCoolingDown = "cooling_down"
	ReasonNoAlivePCs  = "no_alive_pcs"
	ReasonInFlight    = "in_flight"
	ReasonUnknownMode = "unknown_mode"
)

// Completion is one successful run of the schedule's job on PC.
type Completion struct {
	PC string
	At time.Time
}

// Decision is the outcome of Decide; PCs is set only for FirePCs.
type Decision struct {
	Action Action
	PCs    []string
	Reason string
	Armed  int
}

// Decide applies the fire policy of mode to one tick.
func Decide(mode schedule.Mode, cooldown time.Duration, expected, roster []string, completions []Completion, now time.Time) Decision {
	switch mode {
	case schedule.EveryTick:
		return Decision{Action: FireWhole, Reason: ReasonEveryTick, Armed: len(expected)}
	case schedule.OncePerPC:
		return decidePerPC(cooldown, expected, latestByPC(completions), now)
	case schedule.OncePerTarget:
		return decidePerTarget(cooldown, expected, roster, latestByPC(completions), now)
	}
	return Decision{Action: Skip, Reason: ReasonUnknownMode}
}

func latestByPC(cs []Completion) map[string]time.Time {
	latest := make(map[string]time.Time, len(cs))
	for _, c := range cs {
		if t, ok := latest[c.PC]; !ok || c.At.After(t) {
			latest[c.PC] = c.At
		}
	}
	return latest
}

// armed: never completed, or cooldown set and elapsed (the boundary
// itself re-arms, so "every 24h" fires at exactly 24h, not a tick later).
func armed(last time.Time, done bool, cooldown time.Duration, now time.Time) bool {
	return !done || (cooldown > 0 && now.Sub(last) >= cooldown)
}

func decidePerPC(cooldown time.Duration, expected []string, latest map[string]time.Time, now time.Time) Decision {
	if len(expected) == 0 {
		return Decision{Action: Skip, Reason: ReasonNoAlivePCs}
	}
	var pcs []string
	seen := make(map[string]bool, len(expected))
	for _, pc := range expected {
		if seen[pc] {
			continue
		}
		seen[pc] = true
		last, done := latest[pc]
		if armed(last, done, cooldown, now) {
			pcs = append(pcs, pc)
		}
	}
	if len(pcs) == 0 {
		return Decision{Action: Skip, Reason: doneReason(cooldown)}
	}
	return Decision{Action: FirePCs, PCs: pcs, Reason: ReasonArmed, Armed: len(pcs)}
}

func decidePerTarget(cooldown time.Duration, expected, roster []string, latest map[string]time.Time, now time.Time) Decision {
	var last time.Time
	done := false
	for _, pc := range roster {
		if t, ok := latest[pc]; ok && (!done || t.After(last)) {
			last, done = t, true
		}
	}
	if !armed(last, done, cooldown, now) {
		return Decision{Action: Skip, Reason: doneReason(cooldown)}
	}
	if len(expected) == 0 {
		return Decision{Action: Skip, Reason: ReasonNoAlivePCs, Armed: 1}
	}
	return Decision{Action: FireWhole, Reason: ReasonArmed, Armed: 1}
}

// doneReason tells "finished for good" from "will re-arm later" apart,
// which is what operators ask the decision log.
func doneReason(cooldown time.Duration) string {
	if cooldown > 0 {
		return ReasonCoolingDown
	}
	return ReasonAllDone
}
