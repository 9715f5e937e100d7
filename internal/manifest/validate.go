package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kanade-dev/kanade/internal/ident"
)

var shells = map[string]bool{"sh": true, "bash": true, "pwsh": true, "powershell": true, "cmd": true}

// ValidateJob returns every problem of j as Errors, or nil.
func ValidateJob(j *Job) error { return asError(jobErrors(j)) }

// ValidatePlan returns every problem of p as Errors, or nil.
func ValidatePlan(p *Plan) error { return asError(planErrors(&p.Target, p.Rollout, p.Jitter)) }

// ValidateSchedule returns every problem of s as Errors, or nil, including
// the timing checks of internal/schedule.Lower. It cannot check that
// job_id exists: that needs the KV and is the caller's job.
func ValidateSchedule(s *Schedule) error { return asError(scheduleErrors(s)) }

// asError keeps a nil Errors from becoming a non-nil error interface.
func asError(errs Errors) error {
	if len(errs) == 0 {
		return nil
	}
	return errs
}

type collector struct{ errs Errors }

func (c *collector) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// id checks an identifier; ident.Check's message already names the field,
// which the path carries here, so that prefix is dropped.
func (c *collector) id(path, v string) {
	if err := ident.Check(path, v); err != nil {
		c.errs = append(c.errs, FieldError{Path: path, Message: strings.TrimPrefix(err.Error(), path+": ")})
	}
}

func jobErrors(j *Job) Errors {
	var c collector
	c.id("id", j.ID)
	if strings.TrimSpace(j.Version) == "" {
		c.add("version", "required")
	}
	e := j.Execute
	if !shells[e.Shell] {
		c.add("execute.shell", "want one of sh, bash, pwsh, powershell, cmd, got %q", e.Shell)
	}
	if strings.TrimSpace(e.Script) == "" {
		c.add("execute.script", "must not be blank")
	}
	if e.Timeout <= 0 {
		c.add("execute.timeout", "required and > 0")
	}
	for k := range e.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			c.add("execute.env", "invalid variable name %q", k)
		}
	}
	return c.errs
}

var reRatio = regexp.MustCompile(`^(\d{1,3}(?:\.\d+)?)%$`)

// planErrors checks the fan-out fields shared by plans and schedules; both
// keep them at the top level, so the paths are the same.
func planErrors(t *Target, r *Rollout, jitter Duration) Errors {
	var c collector
	if t.Empty() && (r == nil || len(r.Waves) == 0) {
		c.add("target", "must name all, groups or pcs, or a rollout with at least one wave")
	}
	for i, g := range t.Groups {
		c.id(fmt.Sprintf("target.groups[%d]", i), g)
	}
	for i, pc := range t.PCs {
		c.id(fmt.Sprintf("target.pcs[%d]", i), pc)
	}
	if r != nil {
		if len(r.Waves) == 0 {
			c.add("rollout.waves", "must have at least one wave")
		}
		for i, w := range r.Waves {
			p := fmt.Sprintf("rollout.waves[%d]", i)
			c.id(p+".group", w.Group)
			if w.Delay < 0 {
				c.add(p+".delay", "must not be negative")
			}
			if w.MinSuccess != "" && !validRatio(w.MinSuccess) {
				c.add(p+".min_success", "want a percentage from 0%% to 100%%, got %q", w.MinSuccess)
			}
		}
	}
	if jitter < 0 {
		c.add("jitter", "must not be negative")
	}
	return c.errs
}

func validRatio(s string) bool {
	m := reRatio.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return err == nil && v <= 100
}

// MinSuccessRatio parses a wave's min_success ("95%") as 0.95; "" is 0.
func MinSuccessRatio(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	if !validRatio(s) {
		return 0, fmt.Errorf("invalid min_success %q", s)
	}
	v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	return v / 100, nil
}

func scheduleErrors(s *Schedule) Errors {
	var c collector
	c.id("id", s.ID)
	c.id("job_id", s.JobID)
	switch s.RunsOn {
	case "", "backend":
	case "agent":
		if s.When.PerTarget != nil {
			c.add("when.per_target", "needs fleet-wide completions, so it cannot run with runs_on: agent")
		}
	default:
		c.add("runs_on", "want backend or agent, got %q", s.RunsOn)
	}
	if s.StartingDeadline < 0 {
		c.add("starting_deadline", "must not be negative")
	}
	c.errs = append(c.errs, planErrors(&s.Target, s.Rollout, s.Jitter)...)
	if _, errs := LowerSchedule(s); len(errs) > 0 {
		c.errs = append(c.errs, errs...)
	}
	return c.errs
}
