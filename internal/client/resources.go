package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

// Paging is the limit/offset pair every list route accepts; zero values
// leave the server's defaults in place.
type Paging struct {
	Limit  int
	Offset int
}

func (p Paging) values() url.Values {
	v := url.Values{}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset > 0 {
		v.Set("offset", strconv.Itoa(p.Offset))
	}
	return v
}

// setNonEmpty adds only the filters the caller gave, so "no filter" and
// "filter on empty string" never get confused on the server.
func setNonEmpty(v url.Values, kv ...string) url.Values {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

func get[T any](ctx context.Context, c *Client, path string, q url.Values) (Reply[T], error) {
	return call[T](ctx, c, request{method: http.MethodGet, path: path, query: q})
}

func postJSON[T any](ctx context.Context, c *Client, path string, body any) (Reply[T], error) {
	r := request{method: http.MethodPost, path: path}
	if body != nil {
		b, err := jsonBody(body)
		if err != nil {
			return Reply[T]{}, err
		}
		r.body, r.contentType = b, "application/json"
	}
	return call[T](ctx, c, r)
}

func (c *Client) del(ctx context.Context, path string) error {
	_, err := c.raw(ctx, request{method: http.MethodDelete, path: path})
	return err
}

// ---- jobs ----

// ApplyResult is the answer to a create/update of a job or schedule. The
// server may wrap the object or return it bare; both are tolerated.
type ApplyResult struct {
	ID       string   `json:"id"`
	Version  string   `json:"version"`
	Created  *bool    `json:"created,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ListJobs answers GET /api/jobs.
func (c *Client) ListJobs(ctx context.Context, p Paging) (Reply[store.Page[manifest.Job]], error) {
	return get[store.Page[manifest.Job]](ctx, c, "/api/jobs", p.values())
}

// GetJob answers GET /api/jobs/{id}.
func (c *Client) GetJob(ctx context.Context, id string) (Reply[manifest.Job], error) {
	return get[manifest.Job](ctx, c, "/api/jobs/"+seg(id), nil)
}

// GetJobYAML answers GET /api/jobs/{id}?format=yaml, verbatim.
func (c *Client) GetJobYAML(ctx context.Context, id string) ([]byte, error) {
	return c.raw(ctx, request{method: http.MethodGet, path: "/api/jobs/" + seg(id),
		query: url.Values{"format": {"yaml"}}, accept: "application/yaml"})
}

// ApplyJob sends a manifest as is (YAML or JSON, per contentType) so the
// server's strict decoder sees exactly what the operator wrote.
func (c *Client) ApplyJob(ctx context.Context, body io.Reader, contentType string) (Reply[ApplyResult], error) {
	return call[ApplyResult](ctx, c, request{method: http.MethodPost, path: "/api/jobs", body: body, contentType: contentType})
}

// ValidateJob answers POST /api/jobs/validate.
func (c *Client) ValidateJob(ctx context.Context, body io.Reader, contentType string) (Reply[json.RawMessage], error) {
	return call[json.RawMessage](ctx, c, request{method: http.MethodPost, path: "/api/jobs/validate", body: body, contentType: contentType})
}

// DeleteJob answers DELETE /api/jobs/{id}.
func (c *Client) DeleteJob(ctx context.Context, id string) error {
	return c.del(ctx, "/api/jobs/"+seg(id))
}

// ---- exec / run ----

// ExecRequest is the fan-out plan of POST /api/exec/{job}. It is its own
// type rather than manifest.Plan so jitter travels as the operator typed it.
type ExecRequest struct {
	Target     manifest.Target `json:"target"`
	Jitter     string          `json:"jitter,omitempty"`
	DeadlineAt string          `json:"deadline_at,omitempty"`
}

// ExecResponse is the answer of POST /api/exec/{job}.
type ExecResponse struct {
	ExecID      string   `json:"exec_id"`
	JobID       string   `json:"job_id"`
	Version     string   `json:"version"`
	TargetCount int      `json:"target_count"`
	Subjects    []string `json:"subjects"`
}

// Exec starts a job on a target.
func (c *Client) Exec(ctx context.Context, jobID string, req ExecRequest) (Reply[ExecResponse], error) {
	return postJSON[ExecResponse](ctx, c, "/api/exec/"+seg(jobID), req)
}

// RunRequest is the body of POST /api/run.
type RunRequest struct {
	PC      string `json:"pc"`
	Shell   string `json:"shell,omitempty"`
	Script  string `json:"script"`
	Timeout string `json:"timeout,omitempty"`
}

// Run executes an ad-hoc script on one PC and waits for its result.
func (c *Client) Run(ctx context.Context, req RunRequest) (Reply[store.Result], error) {
	return postJSON[store.Result](ctx, c, "/api/run", req)
}

// ---- executions / results ----

// ExecutionFilter narrows GET /api/executions.
type ExecutionFilter struct {
	Paging
	Job, Status, Initiator, Since string
}

// ExecutionDetail is the answer of GET /api/executions/{id}.
type ExecutionDetail struct {
	Execution store.Execution `json:"execution"`
	Results   []store.Result  `json:"results"`
}

func (c *Client) ListExecutions(ctx context.Context, f ExecutionFilter) (Reply[store.Page[store.Execution]], error) {
	q := setNonEmpty(f.values(), "job", f.Job, "status", f.Status, "initiator", f.Initiator, "since", f.Since)
	return get[store.Page[store.Execution]](ctx, c, "/api/executions", q)
}

func (c *Client) GetExecution(ctx context.Context, id string) (Reply[ExecutionDetail], error) {
	return get[ExecutionDetail](ctx, c, "/api/executions/"+seg(id), nil)
}

// KillExecution asks every agent running the exec to kill it.
func (c *Client) KillExecution(ctx context.Context, id string) (Reply[json.RawMessage], error) {
	return postJSON[json.RawMessage](ctx, c, "/api/executions/"+seg(id)+"/kill", nil)
}

// ResultFilter narrows GET /api/results.
type ResultFilter struct {
	Paging
	PC, Job, Exec, Status, Since string
}

func (c *Client) ListResults(ctx context.Context, f ResultFilter) (Reply[store.Page[store.Result]], error) {
	q := setNonEmpty(f.values(), "pc", f.PC, "job", f.Job, "exec", f.Exec, "status", f.Status, "since", f.Since)
	return get[store.Page[store.Result]](ctx, c, "/api/results", q)
}

func (c *Client) GetResult(ctx context.Context, id string) (Reply[store.Result], error) {
	return get[store.Result](ctx, c, "/api/results/"+seg(id), nil)
}

// ---- agents / groups ----

// AgentFilter narrows GET /api/agents.
type AgentFilter struct {
	Paging
	Q, Group, Status, OS string
}

func (c *Client) ListAgents(ctx context.Context, f AgentFilter) (Reply[store.Page[store.Agent]], error) {
	q := setNonEmpty(f.values(), "q", f.Q, "group", f.Group, "status", f.Status, "os", f.OS)
	return get[store.Page[store.Agent]](ctx, c, "/api/agents", q)
}

func (c *Client) GetAgent(ctx context.Context, pc string) (Reply[store.Agent], error) {
	return get[store.Agent](ctx, c, "/api/agents/"+seg(pc), nil)
}

func (c *Client) DeleteAgent(ctx context.Context, pc string) error {
	return c.del(ctx, "/api/agents/"+seg(pc))
}

// GroupMembers is one item of GET /api/groups.
type GroupMembers struct {
	Group   string   `json:"group"`
	Members []string `json:"members"`
}

// AgentGroups is the body and answer of /api/agents/{pc}/groups.
type AgentGroups struct {
	Groups []string `json:"groups"`
}

// ListGroups answers GET /api/groups. A bare JSON array is accepted as a
// one-page list too, since the group roster is small and may be served
// unpaged.
func (c *Client) ListGroups(ctx context.Context, p Paging) (Reply[store.Page[GroupMembers]], error) {
	var rep Reply[store.Page[GroupMembers]]
	b, err := c.raw(ctx, request{method: http.MethodGet, path: "/api/groups", query: p.values()})
	if err != nil {
		return rep, err
	}
	rep.Raw = b
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(t, &rep.Value.Items)
		rep.Value.Total = len(rep.Value.Items)
	} else {
		err = json.Unmarshal(b, &rep.Value)
	}
	if err != nil {
		return rep, fmt.Errorf("decode answer from /api/groups: %w", err)
	}
	return rep, nil
}

func (c *Client) GetAgentGroups(ctx context.Context, pc string) (Reply[AgentGroups], error) {
	return get[AgentGroups](ctx, c, "/api/agents/"+seg(pc)+"/groups", nil)
}

func (c *Client) AddAgentGroup(ctx context.Context, pc, group string) (Reply[AgentGroups], error) {
	return postJSON[AgentGroups](ctx, c, "/api/agents/"+seg(pc)+"/groups", map[string]string{"group": group})
}

func (c *Client) RemoveAgentGroup(ctx context.Context, pc, group string) error {
	return c.del(ctx, "/api/agents/"+seg(pc)+"/groups/"+seg(group))
}

func (c *Client) SetAgentGroups(ctx context.Context, pc string, groups []string) (Reply[AgentGroups], error) {
	if groups == nil {
		groups = []string{} // "no groups" must be [] on the wire, not null
	}
	b, err := jsonBody(AgentGroups{Groups: groups})
	if err != nil {
		return Reply[AgentGroups]{}, err
	}
	return call[AgentGroups](ctx, c, request{method: http.MethodPut, path: "/api/agents/" + seg(pc) + "/groups",
		body: b, contentType: "application/json"})
}

// ---- audit ----

// AuditFilter narrows GET /api/audit.
type AuditFilter struct {
	Paging
	Actor, Action, Target, Since string
}

func (c *Client) ListAudit(ctx context.Context, f AuditFilter) (Reply[store.Page[store.AuditEntry]], error) {
	q := setNonEmpty(f.values(), "actor", f.Actor, "action", f.Action, "target", f.Target, "since", f.Since)
	return get[store.Page[store.AuditEntry]](ctx, c, "/api/audit", q)
}

// ---- schedules ----

// Preview is the answer of GET /api/schedules/{id}/preview. would_fire is
// kept raw: its shape explains a decision and may grow.
type Preview struct {
	Next      []string        `json:"next"`
	WouldFire json.RawMessage `json:"would_fire"`
}

// CoverageItem is one roster PC of GET /api/schedules/{id}/coverage.
type CoverageItem struct {
	PCID  string `json:"pc_id"`
	State string `json:"state"`
}

// Coverage is the answer of GET /api/schedules/{id}/coverage.
type Coverage struct {
	Items []CoverageItem `json:"items"`
	Total int            `json:"total"`
}

func (c *Client) ListSchedules(ctx context.Context, p Paging) (Reply[store.Page[manifest.Schedule]], error) {
	return get[store.Page[manifest.Schedule]](ctx, c, "/api/schedules", p.values())
}

func (c *Client) GetSchedule(ctx context.Context, id string) (Reply[manifest.Schedule], error) {
	return get[manifest.Schedule](ctx, c, "/api/schedules/"+seg(id), nil)
}

func (c *Client) ApplySchedule(ctx context.Context, body io.Reader, contentType string) (Reply[ApplyResult], error) {
	return call[ApplyResult](ctx, c, request{method: http.MethodPost, path: "/api/schedules", body: body, contentType: contentType})
}

func (c *Client) DeleteSchedule(ctx context.Context, id string) error {
	return c.del(ctx, "/api/schedules/"+seg(id))
}

// SetScheduleEnabled calls .../enable or .../disable.
func (c *Client) SetScheduleEnabled(ctx context.Context, id string, enabled bool) (Reply[json.RawMessage], error) {
	verb := "disable"
	if enabled {
		verb = "enable"
	}
	return postJSON[json.RawMessage](ctx, c, "/api/schedules/"+seg(id)+"/"+verb, nil)
}

func (c *Client) PreviewSchedule(ctx context.Context, id string, count int) (Reply[Preview], error) {
	q := url.Values{}
	if count > 0 {
		q.Set("count", strconv.Itoa(count))
	}
	return get[Preview](ctx, c, "/api/schedules/"+seg(id)+"/preview", q)
}

func (c *Client) ScheduleTicks(ctx context.Context, id string, p Paging) (Reply[store.Page[store.Tick]], error) {
	return get[store.Page[store.Tick]](ctx, c, "/api/schedules/"+seg(id)+"/ticks", p.values())
}

func (c *Client) ScheduleCoverage(ctx context.Context, id string, p Paging) (Reply[Coverage], error) {
	return get[Coverage](ctx, c, "/api/schedules/"+seg(id)+"/coverage", p.values())
}
