package localsched

import (
	"maps"
	"slices"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/wire"
)

// Feeding without a watch: a KV watch is an ordered consumer, one per
// agent, which a large fleet cannot afford (SPEC §3.5). With Config.JS nil
// the agent feeds the ticker itself from core subscriptions on the
// buckets' $KV subjects (Apply) plus a listing on every (re)connect
// (Replace).

// Apply applies one live change of bucket (schedules or jobs).
func (t *Ticker) Apply(bucket, key string, value []byte, deleted bool) {
	apply := t.applierFor(bucket)
	if apply == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, had := t.st.Jobs[key]
	apply(key, value, deleted)
	if _, has := t.st.Jobs[key]; bucket == wire.BucketJobs && !had && !has {
		// A job no agent-side schedule uses changes nothing on disk; every
		// job put reaches the whole fleet, and a state-file rewrite on
		// each of 10 000 agents at once was ~4% of a fan-out round.
		return
	}
	t.saveLocked()
}

// Replace applies a full listing of bucket: keys missing from entries are
// dropped from the cache. For jobs, a listing of just the jobs that
// UsedJobs named is enough.
func (t *Ticker) Replace(bucket string, entries map[string][]byte) {
	apply := t.applierFor(bucket)
	if apply == nil {
		return
	}
	present := map[string]bool{}
	t.mu.Lock()
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		apply(k, entries[k], false)
		present[k] = true
	}
	t.mu.Unlock()
	t.reconcile(bucket, present)
}

func (t *Ticker) applierFor(bucket string) applyFunc {
	switch bucket {
	case wire.BucketSchedules:
		return t.applySchedule
	case wire.BucketJobs:
		return t.applyJob
	}
	return nil
}

// UsedJobs lists the jobs the cached schedules run, sorted.
func (t *Ticker) UsedJobs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.usedJobsLocked()
}

// MissingJobs lists the used jobs not known yet (a schedule that arrived
// live may name a job this agent never fetched).
func (t *Ticker) MissingJobs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.DeleteFunc(t.usedJobsLocked(), func(id string) bool {
		_, ok := t.allJobs[id]
		return ok
	})
}

func (t *Ticker) usedJobsLocked() []string {
	used := map[string]bool{}
	for _, raw := range t.st.Schedules {
		if s, err := manifest.ReadSchedule(raw); err == nil {
			used[s.JobID] = true
		}
	}
	return slices.Sorted(maps.Keys(used))
}
