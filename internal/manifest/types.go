// Package manifest holds what operators write: jobs (what to run), fan-out
// plans (where) and schedules (when), with strict decoding and validation
// at every create/update boundary and tolerant decoding on read paths.
package manifest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kanade-dev/kanade/internal/duration"
)

// Duration is a time.Duration written as "10m", "6h" or "7d" in manifests.
type Duration time.Duration

func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(d.String())
}

// String prints d as operators write it: "10m", "1h30m", "7d" rather
// than Go's "10m0s".
func (d Duration) String() string {
	s := duration.Format(time.Duration(d))
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"10m\"")
	}
	if strings.TrimSpace(s) == "" {
		*d = 0
		return nil
	}
	v, err := duration.Parse(s)
	if err != nil {
		return err
	}
	if v < 0 { // "65535d" plus hours overflows int64
		return fmt.Errorf("duration %q out of range", s)
	}
	*d = Duration(v)
	return nil
}

// Job is "what to run" (SPEC §3.1), stored as JSON in KV jobs.
type Job struct {
	ID          string  `json:"id"`
	Version     string  `json:"version"`
	Description string  `json:"description,omitempty"`
	Execute     Execute `json:"execute"`
}

type Execute struct {
	Shell   string            `json:"shell"`
	Script  string            `json:"script"`
	Timeout Duration          `json:"timeout"`
	Cwd     string            `json:"cwd,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// Target names who runs an exec; membership is a de-duplicated union.
type Target struct {
	All    bool     `json:"all,omitempty"`
	Groups []string `json:"groups,omitempty"`
	PCs    []string `json:"pcs,omitempty"`
}

// Empty reports whether the target names nobody.
func (t Target) Empty() bool { return !t.All && len(t.Groups) == 0 && len(t.PCs) == 0 }

type Wave struct {
	Group      string   `json:"group"`
	Delay      Duration `json:"delay,omitempty"`
	MinSuccess string   `json:"min_success,omitempty"` // "95%"
}

type Rollout struct {
	Waves []Wave `json:"waves"`
}

// Plan is "where to run it" (SPEC §3.2): the body of POST /api/exec/{job}
// and the top level of a schedule.
type Plan struct {
	Target     Target     `json:"target"`
	Rollout    *Rollout   `json:"rollout,omitempty"`
	Jitter     Duration   `json:"jitter,omitempty"`
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
}

// HasRollout reports whether the plan publishes in waves instead of to its
// target at once.
func (p Plan) HasRollout() bool { return p.Rollout != nil && len(p.Rollout.Waves) > 0 }

// Schedule is "when" (SPEC §3.3), stored as JSON in KV schedules.
type Schedule struct {
	ID               string   `json:"id"`
	JobID            string   `json:"job_id"`
	When             When     `json:"when"`
	Target           Target   `json:"target"`
	Rollout          *Rollout `json:"rollout,omitempty"`
	Jitter           Duration `json:"jitter,omitempty"`
	TZ               string   `json:"tz,omitempty"`
	Active           *Active  `json:"active,omitempty"`
	StartingDeadline Duration `json:"starting_deadline,omitempty"`
	RunsOn           string   `json:"runs_on,omitempty"` // backend (default) | agent
	Enabled          *bool    `json:"enabled,omitempty"` // nil = true
}

// IsEnabled applies the default (true).
func (s *Schedule) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Plan returns the fan-out plan embedded in the schedule.
func (s *Schedule) Plan() Plan {
	return Plan{Target: s.Target, Rollout: s.Rollout, Jitter: s.Jitter}
}

// When has exactly one of its fields set.
type When struct {
	PerPC     *Repeat   `json:"per_pc,omitempty"`
	PerTarget *Repeat   `json:"per_target,omitempty"`
	Calendar  *Calendar `json:"calendar,omitempty"`
}

// Repeat is either the word "once" or {every: D}.
type Repeat struct {
	Once  bool
	Every Duration
}

func (r Repeat) MarshalJSON() ([]byte, error) {
	if r.Once {
		return []byte(`"once"`), nil
	}
	return json.Marshal(struct {
		Every Duration `json:"every"`
	}{r.Every})
}

func (r *Repeat) UnmarshalJSON(b []byte) error {
	var word string
	if json.Unmarshal(b, &word) == nil {
		if word != "once" {
			return fmt.Errorf("want \"once\" or {every: D}, got %q", word)
		}
		*r = Repeat{Once: true}
		return nil
	}
	var obj struct {
		Every *Duration `json:"every"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("want \"once\" or {every: D}: %w", err)
	}
	if obj.Every == nil || *obj.Every <= 0 {
		return fmt.Errorf("every: required and > 0")
	}
	*r = Repeat{Every: *obj.Every}
	return nil
}

type Calendar struct {
	At   string   `json:"at"`
	Days []string `json:"days,omitempty"`
}

// Active is the half-open window [from, until); each bound is RFC 3339
// or a bare YYYY-MM-DD meaning midnight in the schedule's tz.
type Active struct {
	From  string `json:"from,omitempty"`
	Until string `json:"until,omitempty"`
}

// FieldError is one validation problem, located by its dotted path.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Errors collects every problem of one document; it is an error.
type Errors []FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Message
		if f.Path != "" {
			parts[i] = f.Path + ": " + f.Message
		}
	}
	return strings.Join(parts, "; ")
}
