package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kanade-dev/kanade/internal/duration"
)

// DecodeJob is the strict create/update boundary for jobs: YAML or JSON
// in, every unknown key, type error and validation error out at once.
func DecodeJob(data []byte) (*Job, error) {
	var j Job
	if err := decodeStrict(data, jobSchema, &j, func() Errors { return jobErrors(&j) }); err != nil {
		return nil, err
	}
	j.normalize()
	return &j, nil
}

// DecodePlan is the strict boundary for POST /api/exec bodies.
func DecodePlan(data []byte) (*Plan, error) {
	var p Plan
	if err := decodeStrict(data, planSchema, &p, func() Errors { return planErrors(&p.Target, p.Rollout, p.Jitter) }); err != nil {
		return nil, err
	}
	p.normalize()
	return &p, nil
}

// DecodeSchedule is the strict boundary for schedules. It also lowers the
// timing (tz, days, at, active) so every problem is reported in one go.
func DecodeSchedule(data []byte) (*Schedule, error) {
	var s Schedule
	if err := decodeStrict(data, scheduleSchema, &s, func() Errors { return scheduleErrors(&s) }); err != nil {
		return nil, err
	}
	s.normalize()
	return &s, nil
}

// ReadJob decodes a stored job tolerantly: fields added by a newer
// version are ignored rather than making the value unreadable.
func ReadJob(data []byte) (*Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("decode job: %w", err)
	}
	j.normalize()
	return &j, nil
}

// ReadSchedule is ReadJob for schedules.
func ReadSchedule(data []byte) (*Schedule, error) {
	var s Schedule
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode schedule: %w", err)
	}
	s.normalize()
	return &s, nil
}

// decodeStrict checks the document against the schema, decodes what is
// well-typed into out, then validates; errors at a path that already has
// a decode error are dropped so one mistake is reported once.
func decodeStrict(data []byte, sc *schema, out any, validate func() Errors) error {
	root, err := parseYAML(data)
	if err != nil {
		return err
	}
	w := &walker{}
	tree := w.walk(root, sc, "")
	raw, err := json.Marshal(tree)
	if err != nil {
		return Errors{{Path: "", Message: fmt.Sprintf("cannot encode document: %v", err)}}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		// The walker type-checks everything the structs read, so this is a
		// schema/struct mismatch; report it rather than hide it.
		w.errs = append(w.errs, FieldError{Path: "", Message: err.Error()})
	}
	if errs := mergeErrors(w.errs, validate()); len(errs) > 0 {
		return errs
	}
	return nil
}

func mergeErrors(decode, valid Errors) Errors {
	out := decode
	for _, v := range valid {
		if !coveredBy(v.Path, decode) {
			out = append(out, v)
		}
	}
	return out
}

// coveredBy reports whether a decode error already explains path: an error
// at path itself, at an ancestor (a mistyped object hides its fields), or
// at a descendant whose value was rejected and dropped (an unknown key
// drops nothing, so it explains nothing about its parent).
func coveredBy(path string, errs Errors) bool {
	for _, e := range errs {
		switch {
		case e.Path == path, isUnder(path, e.Path):
			return true
		case isUnder(e.Path, path) && e.Message != msgUnknown:
			return true
		}
	}
	return false
}

func isUnder(path, parent string) bool {
	return parent == "" || strings.HasPrefix(path, parent+".") || strings.HasPrefix(path, parent+"[")
}

const msgUnknown = "unknown field"

func parseYAML(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Path: "", Message: "empty document"}}
		}
		return nil, Errors{{Path: "", Message: "invalid YAML/JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, Errors{{Path: "", Message: "want exactly one document"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, Errors{{Path: "", Message: "empty document"}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{Path: "", Message: fmt.Sprintf("line %d: want a mapping (object) at the top level", root.Line)}}
	}
	return root, nil
}

type kind int

const (
	kObject kind = iota
	kList
	kStrMap
	kString
	kBool
	kDuration
	kTime
	kRepeat
)

type schema struct {
	kind   kind
	fields map[string]*schema // kObject
	elem   *schema            // kList
}

func obj(fields map[string]*schema) *schema { return &schema{kind: kObject, fields: fields} }
func list(elem *schema) *schema             { return &schema{kind: kList, elem: elem} }

var (
	str      = &schema{kind: kString}
	boolean  = &schema{kind: kBool}
	dur      = &schema{kind: kDuration}
	instant  = &schema{kind: kTime}
	repeat   = &schema{kind: kRepeat}
	strMap   = &schema{kind: kStrMap}
	strList  = list(str)
	targetSc = obj(map[string]*schema{"all": boolean, "groups": strList, "pcs": strList})
	rollout  = obj(map[string]*schema{"waves": list(obj(map[string]*schema{
		"group": str, "delay": dur, "min_success": str,
	}))})

	jobSchema = obj(map[string]*schema{
		"id": str, "version": str, "description": str,
		"execute": obj(map[string]*schema{
			"shell": str, "script": str, "timeout": dur, "cwd": str, "env": strMap,
		}),
	})
	planSchema = obj(map[string]*schema{
		"target": targetSc, "rollout": rollout, "jitter": dur, "deadline_at": instant,
	})
	scheduleSchema = obj(map[string]*schema{
		"id": str, "job_id": str,
		"when": obj(map[string]*schema{
			"per_pc": repeat, "per_target": repeat,
			"calendar": obj(map[string]*schema{"at": str, "days": strList}),
		}),
		"target": targetSc, "rollout": rollout, "jitter": dur, "tz": str,
		"active":            obj(map[string]*schema{"from": str, "until": str}),
		"starting_deadline": dur, "runs_on": str, "enabled": boolean,
	})
)

// walker turns a YAML node into a JSON-ready tree, leaving out anything
// that is unknown or mistyped and recording why, with its full path.
type walker struct {
	errs Errors
}

func (w *walker) fail(path string, _ *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (w *walker) walk(n *yaml.Node, sc *schema, path string) any {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	switch sc.kind {
	case kObject:
		return w.object(n, sc, path)
	case kList:
		return w.list(n, sc, path)
	case kStrMap:
		return w.strMap(n, path)
	case kRepeat:
		return w.repeat(n, path)
	}
	return w.scalar(n, sc.kind, path)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func join(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func (w *walker) object(n *yaml.Node, sc *schema, path string) any {
	if n.Kind != yaml.MappingNode {
		w.fail(path, n, "want an object, got %s", describe(n))
		return nil
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		fsc, ok := sc.fields[k.Value]
		switch {
		case k.Kind != yaml.ScalarNode:
			w.fail(path, k, "line %d: keys must be plain strings", k.Line)
		case !ok:
			w.fail(p, k, msgUnknown)
		default:
			if _, dup := out[k.Value]; dup {
				w.fail(p, k, "duplicate field")
				continue
			}
			// A null or rejected value is left out: the struct keeps its
			// zero value and validation reports what is then missing.
			if val := w.walk(v, fsc, p); val != nil {
				out[k.Value] = val
			}
		}
	}
	return out
}

func (w *walker) list(n *yaml.Node, sc *schema, path string) any {
	if n.Kind != yaml.SequenceNode {
		w.fail(path, n, "want a list, got %s", describe(n))
		return nil
	}
	out := make([]any, 0, len(n.Content))
	for i, e := range n.Content {
		out = append(out, w.walk(e, sc.elem, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (w *walker) strMap(n *yaml.Node, path string) any {
	if n.Kind != yaml.MappingNode {
		w.fail(path, n, "want a mapping of strings, got %s", describe(n))
		return nil
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if _, dup := out[k.Value]; dup {
			w.fail(p, k, "duplicate key")
			continue
		}
		if s := w.walk(v, str, p); s != nil {
			out[k.Value] = s
		}
	}
	return out
}

// repeat accepts exactly the word "once" or {every: D}; typos are errors,
// never a silent default (SPEC §3.3).
func (w *walker) repeat(n *yaml.Node, path string) any {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "once" {
			w.fail(path, n, `want "once" or {every: D}, got %q`, n.Value)
			return nil
		}
		return "once"
	}
	if n.Kind != yaml.MappingNode {
		w.fail(path, n, `want "once" or {every: D}, got %s`, describe(n))
		return nil
	}
	every := w.object(n, obj(map[string]*schema{"every": dur}), path)
	m, _ := every.(map[string]any)
	if m["every"] == nil {
		if !coveredBy(path+".every", w.errs) {
			w.fail(path, n, `want "once" or {every: D}: every is required`)
		}
		return nil
	}
	if d, _ := duration.Parse(m["every"].(string)); d <= 0 {
		w.fail(path+".every", n, "must be > 0")
		return nil
	}
	return m
}

func (w *walker) scalar(n *yaml.Node, k kind, path string) any {
	if n.Kind != yaml.ScalarNode {
		w.fail(path, n, "want %s, got %s", kindName(k), describe(n))
		return nil
	}
	switch k {
	case kBool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			w.fail(path, n, "want true or false, got %q", n.Value)
			return nil
		}
		return b
	case kDuration:
		d, err := duration.Parse(n.Value)
		if err != nil || d < 0 {
			w.fail(path, n, "invalid duration %q", n.Value)
			return nil
		}
		return Duration(d).String()
	case kTime:
		t, err := time.Parse(time.RFC3339, n.Value)
		if err != nil {
			w.fail(path, n, "invalid time %q (want RFC 3339)", n.Value)
			return nil
		}
		return t.Format(time.RFC3339Nano)
	}
	// Numbers are taken as written ("version: 1.10" stays "1.10"); a bool
	// in a string field is almost always a mistake, so it is refused.
	switch n.Tag {
	case "!!str", "!!int", "!!float", "":
		return n.Value
	}
	w.fail(path, n, "want a string, got %s", describe(n))
	return nil
}

func kindName(k kind) string {
	switch k {
	case kBool:
		return "true or false"
	case kDuration:
		return `a duration like "10m"`
	case kTime:
		return "an RFC 3339 time"
	}
	return "a string"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}
