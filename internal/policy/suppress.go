package policy

import "time"

const (
	minWindow = 90 * time.Second
	maxWindow = 30 * time.Minute
)

// Window is how long a dispatch counts as in flight: long enough for the
// jitter and the run plus slack for the result to arrive, capped so a
// lost run is retried within half an hour (and well inside the 1 h TTL of
// the marks bucket).
func Window(jitter, timeout time.Duration) time.Duration {
	jitter, timeout = max(jitter, 0), max(timeout, 0)
	if jitter >= maxWindow || timeout >= maxWindow { // and no overflow below
		return maxWindow
	}
	return min(jitter+timeout+minWindow, maxWindow)
}

// Suppress drops from d what was dispatched less than window ago.
// Missing marks mean "not in flight", so a KV failure over-fires rather
// than under-fires. It returns the new decision and how many PCs (or 1
// for a whole-target fire) were held back.
func Suppress(d Decision, pcMarks map[string]time.Time, targetMark *time.Time, window time.Duration, now time.Time) (Decision, int) {
	young := func(mark time.Time) bool { return now.Sub(mark) < window }
	switch d.Action {
	case FireWhole:
		if targetMark != nil && young(*targetMark) {
			return Decision{Action: Skip, Reason: ReasonInFlight, Armed: d.Armed}, 1
		}
	case FirePCs:
		var keep []string
		for _, pc := range d.PCs {
			if m, ok := pcMarks[pc]; !ok || !young(m) {
				keep = append(keep, pc)
			}
		}
		suppressed := len(d.PCs) - len(keep)
		if len(keep) == 0 {
			return Decision{Action: Skip, Reason: ReasonInFlight, Armed: d.Armed}, suppressed
		}
		d.PCs = keep
		return d, suppressed
	}
	return d, 0
}

// MarkKeyPCs and MarkKeyTarget name dispatch marks in KV
// scheduler_dispatch: a batch of PC marks (batch is unique per write) and
// a whole-target mark. Ids cannot contain '.', so the token count (3 vs
// 2) and the distinct first token keep the two families and every id pair
// apart.
func MarkKeyPCs(scheduleID, batch string) string { return "pcs." + scheduleID + "." + batch }

func MarkKeyTarget(scheduleID string) string { return "target." + scheduleID }
