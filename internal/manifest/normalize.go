package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// normalize makes empty collections nil so that a value survives a
// JSON round trip (omitempty drops them) unchanged.
func (j *Job) normalize() {
	if len(j.Execute.Env) == 0 {
		j.Execute.Env = nil
	}
}

func (t *Target) normalize() {
	if len(t.Groups) == 0 {
		t.Groups = nil
	}
	if len(t.PCs) == 0 {
		t.PCs = nil
	}
}

func (p *Plan) normalize() { p.Target.normalize() }

func (s *Schedule) normalize() {
	s.Target.normalize()
	if c := s.When.Calendar; c != nil && len(c.Days) == 0 {
		c.Days = nil
	}
}

// ToYAML renders v (a Job, Plan or Schedule) as block YAML using its JSON
// field names and order, so `?format=yaml` reads like what was applied.
func ToYAML(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("re-read as yaml: %w", err)
	}
	blockStyle(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// blockStyle drops the flow and quoting styles JSON gave every node; the
// encoder then quotes only where a plain scalar would change meaning and
// uses literal blocks for multi-line scripts.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
