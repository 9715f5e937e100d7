package manifest

import (
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

const goodJob = `
id: cleanup-temp
version: "1.0.3"
description: Remove temp files older than 7 days
execute:
  shell: sh
  script: |
    find /tmp -type f -mtime +7 -delete
  timeout: 10m
  cwd: /tmp
  env: { LANG: C }
`

const goodSchedule = `
id: nightly-cleanup
job_id: cleanup-temp
when: { per_pc: { every: 24h } }
target: { groups: [canary, office] }
jitter: 5m
tz: Asia/Tokyo
active: { from: "2026-12-01", until: "2027-01-01" }
starting_deadline: 30m
runs_on: backend
enabled: true
`

// errs renders an error as "path: message" lines for comparison.
func errs(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	fe, ok := err.(Errors)
	if !ok {
		t.Fatalf("want manifest.Errors, got %T: %v", err, err)
	}
	out := make([]string, len(fe))
	for i, f := range fe {
		out[i] = f.Path + ": " + f.Message
	}
	return out
}

// check asserts that got has exactly len(want) errors and each starts
// with the wanted text, in order.
func check(t *testing.T, err error, want ...string) {
	t.Helper()
	got := errs(t, err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors:\n  %s\nwant %d:\n  %s", len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestDecodeJobAccepts(t *testing.T) {
	j, err := DecodeJob([]byte(goodJob))
	if err != nil {
		t.Fatal(err)
	}
	want := &Job{ID: "cleanup-temp", Version: "1.0.3", Description: "Remove temp files older than 7 days",
		Execute: Execute{Shell: "sh", Script: "find /tmp -type f -mtime +7 -delete\n", Timeout: Duration(10 * time.Minute), Cwd: "/tmp", Env: map[string]string{"LANG": "C"}}}
	if !reflect.DeepEqual(j, want) {
		t.Fatalf("got %+v", j)
	}
	js, err := DecodeJob([]byte(`{"id":"a","version":"1","execute":{"shell":"pwsh","script":"Get-Date","timeout":"1d"}}`))
	if err != nil || js.Execute.Timeout.Std() != 24*time.Hour {
		t.Fatalf("json: %+v %v", js, err)
	}
	// Unquoted numbers keep their written form.
	n, err := DecodeJob([]byte("id: a\nversion: 1.10\nexecute: {shell: cmd, script: dir, timeout: 90s}\n"))
	if err != nil || n.Version != "1.10" {
		t.Fatalf("version: %+v %v", n, err)
	}
}

func TestDecodeJobRejects(t *testing.T) {
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"typo", strings.Replace(goodJob, "script:", "scirpt:", 1), []string{"execute.scirpt: unknown field", "execute.script: must not be blank"}},
		{"all collected", `
id: "bad.id"
version: ""
extra: 1
execute:
  shell: zsh
  script: "  "
  timeout: ten
  env: {A: [1]}
  nested: {x: 1}
`, []string{
			"extra: unknown field",
			`execute.timeout: invalid duration "ten"`,
			"execute.env.A: want a string, got a list",
			"execute.nested: unknown field",
			`id: invalid id "bad.id"`,
			"version: required",
			`execute.shell: want one of sh, bash, pwsh, powershell, cmd, got "zsh"`,
			"execute.script: must not be blank",
		}},
		{"missing timeout", "id: a\nversion: v\nexecute: {shell: sh, script: x}", []string{"execute.timeout: required and > 0"}},
		{"zero timeout", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 0s}", []string{"execute.timeout: required and > 0"}},
		{"negative timeout", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: -1m}", []string{`execute.timeout: invalid duration "-1m"`}},
		{"overflow", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 65535d2562047h}", []string{`execute.timeout: invalid duration`}},
		{"wrong shapes", "id: [a]\nversion: v\nexecute: sh", []string{"id: want a string, got a list", "execute: want an object"}},
		{"bool as string", "id: a\nversion: true\nexecute: {shell: sh, script: x, timeout: 1m}", []string{`version: want a string, got "true"`}},
		{"empty", "", []string{": empty document"}},
		{"comment only", "# nothing\n", []string{": empty document"}},
		{"null", "null", []string{": empty document"}},
		{"list", "[1, 2]", []string{": line 1: want a mapping"}},
		{"syntax", "id: [a\n", []string{": invalid YAML/JSON: line"}},
		{"two docs", "id: a\n---\nid: b\n", []string{": want exactly one document"}},
		{"duplicate", `{"id":"a","id":"b","version":"v","execute":{"shell":"sh","script":"x","timeout":"1m"}}`, []string{"id: duplicate field"}},
		{"odd key", "id: a\nversion: v\nexecute: {shell: sh, script: x, timeout: 1m, \"a.b\": 1}", []string{`execute["a.b"]: unknown field`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, err := DecodeJob([]byte(c.doc))
			if j != nil {
				t.Fatalf("accepted: %+v", j)
			}
			check(t, err, c.want...)
		})
	}
}

func TestDecodePlan(t *testing.T) {
	p, err := DecodePlan([]byte(`{"target":{"groups":["canary"],"pcs":["pc-1"]},"rollout":{"waves":[{"group":"canary","delay":"0s","min_success":"95%"},{"group":"office","delay":"1h"}]},"jitter":"30s","deadline_at":"2026-12-03T09:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rollout.Waves) != 2 || p.Rollout.Waves[1].Delay.Std() != time.Hour || p.DeadlineAt.Hour() != 9 {
		t.Fatalf("got %+v", p)
	}
	if _, err := DecodePlan([]byte(`rollout: {waves: [{group: canary}]}`)); err != nil {
		t.Fatalf("rollout alone is a target: %v", err)
	}
	if _, err := DecodePlan([]byte(`target: {all: true}`)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"empty target", `target: {}`, []string{"target: must name"}},
		{"all false", `target: {all: false}`, []string{"target: must name"}},
		{"empty rollout", `{target: {}, rollout: {waves: []}}`, []string{"target: must name", "rollout.waves: must have at least one wave"}},
		{"bad ids", `target: {groups: [ok, "a.b", "*"], pcs: [">"]}`, []string{
			`target.groups[1]: invalid id "a.b"`, `target.groups[2]: invalid id "*"`, `target.pcs[0]: invalid id ">"`}},
		{"wave typos", `rollout: {waves: [{group: a}, {grp: b, delay: soon, min_success: 101%}, {group: c, min_success: "95"}]}`, []string{
			"rollout.waves[1].grp: unknown field",
			`rollout.waves[1].delay: invalid duration "soon"`,
			"rollout.waves[1].group: must not be empty",
			`rollout.waves[1].min_success: want a percentage from 0% to 100%, got "101%"`,
			`rollout.waves[2].min_success: want a percentage`,
		}},
		{"types", `{target: {all: "yes", groups: canary}, jitter: 5, deadline_at: tomorrow}`, []string{
			`target.all: want true or false, got "yes"`,
			"target.groups: want a list",
			`jitter: invalid duration "5"`,
			`deadline_at: invalid time "tomorrow"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodePlan([]byte(c.doc))
			check(t, err, c.want...)
		})
	}
}

func TestDecodeSchedule(t *testing.T) {
	s, err := DecodeSchedule([]byte(goodSchedule))
	if err != nil {
		t.Fatal(err)
	}
	if s.When.PerPC == nil || s.When.PerPC.Every.Std() != 24*time.Hour || !s.IsEnabled() || s.Active.Until != "2027-01-01" {
		t.Fatalf("got %+v", s)
	}
	for _, when := range []string{
		"per_pc: once", "per_target: once", "per_target: {every: 1h}",
		`calendar: {at: "09:00", days: [mon-fri]}`, `calendar: {at: "2026-06-10 09:00"}`,
	} {
		if _, err := DecodeSchedule([]byte("id: s\njob_id: j\ntarget: {all: true}\nwhen: {" + when + "}\n")); err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	base := "id: s\njob_id: j\ntarget: {all: true}\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"onc", base + "when: {per_pc: onc}", []string{`when.per_pc: want "once" or {every: D}, got "onc"`}},
		{"evry", base + "when: {per_pc: {evry: 1h}}", []string{"when.per_pc.evry: unknown field", "when.per_pc: want"}},
		{"empty repeat", base + "when: {per_pc: {}}", []string{`when.per_pc: want "once" or {every: D}: every is required`}},
		{"zero every", base + "when: {per_target: {every: 0s}}", []string{"when.per_target.every: must be > 0"}},
		{"bad every", base + "when: {per_target: {every: x}}", []string{`when.per_target.every: invalid duration "x"`}},
		{"list repeat", base + "when: {per_pc: [once]}", []string{"when.per_pc: want"}},
		{"no when", base, []string{"when: must set exactly one"}},
		{"two whens", base + "when: {per_pc: once, calendar: {at: '09:00'}}", []string{"when: must set exactly one of per_pc, per_target, calendar (got per_pc, calendar)"}},
		{"per_target on agent", base + "runs_on: agent\nwhen: {per_target: once}", []string{"when.per_target: needs fleet-wide"}},
		{"runs_on", base + "runs_on: cloud\nwhen: {per_pc: once}", []string{`runs_on: want backend or agent, got "cloud"`}},
		{"calendar problems", base + "tz: Mars/Base\nwhen: {calendar: {at: '9', days: [mon, funday], every: 1h}}", []string{
			"when.calendar.every: unknown field",
			`tz: unknown time zone "Mars/Base"`,
			`when.calendar.at: invalid at "9"`,
			`when.calendar.days[1]: invalid day token "funday"`,
		}},
		{"one-shot with days", base + "when: {calendar: {at: '2026-06-10 09:00', days: [mon]}}", []string{"when.calendar.days: must be empty"}},
		{"active", base + "when: {per_pc: once}\nactive: {from: '2027-01-01', until: '2026-01-01', since: x}", []string{
			"active.since: unknown field", "active: from must be before until"}},
		{"everything", `
id: "x y"
job_id: ""
when: {per_pc: once}
target: {groups: ["a.b"]}
rollout: {waves: [{group: ""}]}
jitter: later
starting_deadline: -5m
enabled: "yes"
`, []string{
			`jitter: invalid duration "later"`,
			`starting_deadline: invalid duration "-5m"`,
			`enabled: want true or false, got "yes"`,
			`id: invalid id "x y"`,
			"job_id: must not be empty",
			`target.groups[0]: invalid id "a.b"`,
			"rollout.waves[0].group: must not be empty",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := DecodeSchedule([]byte(c.doc))
			if s != nil {
				t.Fatalf("accepted %+v", s)
			}
			check(t, err, c.want...)
		})
	}
}

func TestReadTolerant(t *testing.T) {
	j, err := ReadJob([]byte(`{"id":"a","version":"1","future":{"x":1},"execute":{"shell":"sh","script":"x","timeout":"1m","new":true}}`))
	if err != nil || j.ID != "a" || j.Execute.Timeout.Std() != time.Minute {
		t.Fatalf("%+v %v", j, err)
	}
	s, err := ReadSchedule([]byte(`{"id":"s","job_id":"j","when":{"per_pc":"once"},"target":{"all":true},"future":1}`))
	if err != nil || !s.When.PerPC.Once {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ReadJob([]byte(`{"id":`)); err == nil {
		t.Fatal("corrupt value accepted")
	}
}

func TestToYAMLRoundTrip(t *testing.T) {
	j, _ := DecodeJob([]byte(goodJob))
	y, err := ToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"id: cleanup-temp\n", "version: 1.0.3\n", "  script: |\n", "  timeout: 10m\n", "    LANG: C\n"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("yaml lacks %q:\n%s", want, y)
		}
	}
	back, err := DecodeJob(y)
	if err != nil || !reflect.DeepEqual(back, j) {
		t.Fatalf("round trip: %+v %v\n%s", back, err, y)
	}
	s, _ := DecodeSchedule([]byte(goodSchedule))
	y, err = ToYAML(s)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := DecodeSchedule(y); err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("schedule round trip: %+v %v\n%s", back, err, y)
	}
	// A string that looks like a number stays a string.
	v, _ := DecodeJob([]byte("id: a\nversion: '1.10'\nexecute: {shell: sh, script: x, timeout: 1m}"))
	y, _ = ToYAML(v)
	if back, err := DecodeJob(y); err != nil || back.Version != "1.10" || !strings.Contains(string(y), `"1.10"`) {
		t.Fatalf("%s %v", y, err)
	}
}

func TestValidateDirect(t *testing.T) {
	if err := ValidateJob(&Job{}); len(errs(t, err)) != 5 {
		t.Fatalf("%v", err)
	}
	if err := ValidatePlan(&Plan{Target: Target{All: true}}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateSchedule(&Schedule{ID: "s", JobID: "j", Target: Target{PCs: []string{"p"}}, When: When{PerPC: &Repeat{Once: true}}}); err != nil {
		t.Fatal(err)
	}
	if r, err := MinSuccessRatio("95%"); err != nil || r != 0.95 {
		t.Fatal(r, err)
	}
}
