// Package fanout turns an exec request (job + plan) into Commands on the
// broker (SPEC §4.2): target resolution, one Command per exec or per
// rollout wave, the executions row and the audit event.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/audit"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// ErrUnavailable means the broker did not accept the publication in time;
// the API answers 503.
var ErrUnavailable = errors.New("broker unavailable")

// Store is what fan-out needs from the projection.
type Store interface {
	OnlinePCs(ctx context.Context, now time.Time, all bool, groups []string) ([]string, error)
	InsertExecution(ctx context.Context, e store.Execution, targets []string) error
	GetExecution(ctx context.Context, execID string) (store.Execution, error)
}

// Fanout publishes execs. It is safe for concurrent use.
type Fanout struct {
	JS      jetstream.JetStream
	Store   Store
	Audit   *audit.Publisher
	Log     *slog.Logger
	Now     func() time.Time
	Timeout time.Duration // per broker call; default 5s
}

// Answer is what POST /api/exec returns.
type Answer struct {
	ExecID      string   `json:"exec_id"`
	JobID       string   `json:"job_id"`
	Version     string   `json:"version"`
	TargetCount int      `json:"target_count"`
	Subjects    []string `json:"subjects"`
}

// Accepted is told each subject whose command the broker has stored, as
// its ack arrives and before Dispatch returns, so a caller can act on the
// accepted part of a large fire while the rest is still in flight.
type Accepted func(subject string)

// Exec validates nothing (the caller did) and publishes job to plan's
// target on behalf of actor.
func (f *Fanout) Exec(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string) (*Answer, error) {
	return f.Dispatch(ctx, job, plan, actor, nil)
}

// Dispatch is Exec that also reports each accepted subject to accepted
// (nil: no one to tell). A rollout's waves are not reported: they are
// published later, by the rollout loop.
func (f *Fanout) Dispatch(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string, accepted Accepted) (*Answer, error) {
	now := f.now()
	execID := uuid.NewString()
	targets, err := f.resolve(ctx, now, plan)
	if err != nil {
		return nil, fmt.Errorf("resolve target: %w", err)
	}
	cmd := NewCommand(job, plan, execID, actor, now)
	subjects := Subjects(plan.Target)
	if plan.HasRollout() {
		subjects = waveSubjects(plan.Rollout)
	}
	targetJSON, _ := json.Marshal(plan.Target)
	row := store.Execution{
		ExecID: execID, JobID: job.ID, Version: job.Version, InitiatedBy: actor,
		InitiatedAt: now, Target: targetJSON, Subjects: subjects, TargetCount: len(targets),
		DeadlineAt: plan.DeadlineAt,
	}
	publish := func() error { return f.publishAll(ctx, subjects, cmd, accepted) }
	if plan.HasRollout() {
		publish = func() error { return f.startRollout(ctx, cmd, plan.Rollout, now) }
	}
	if err := publish(); err != nil {
		return nil, err
	}
	// The projector counts results that beat this row in, so the order of
	// SPEC §4.2 (publish, then record) loses nothing. The audit payload
	// carries the row too, which lets --reproject rebuild it.
	if err := f.Store.InsertExecution(ctx, row, targets); err != nil {
		return nil, fmt.Errorf("insert execution: %w", err)
	}
	f.audit(ctx, actor, store.AuditActionExec, job.ID, store.ExecPayload{Execution: row, TargetPCs: targets})
	return &Answer{ExecID: execID, JobID: job.ID, Version: job.Version, TargetCount: len(targets), Subjects: subjects}, nil
}

// publishAll sends one command to many subjects with every publication in
// flight at once: a per_pc fire can name thousands of PCs, and waiting for
// each ack in turn would cost a round trip per PC.
func (f *Fanout) publishAll(ctx context.Context, subjects []string, cmd wire.Command, accepted Accepted) error {
	if accepted == nil {
		accepted = func(string) {}
	}
	if len(subjects) == 1 {
		if err := f.publish(ctx, subjects[0], cmd, cmd.RequestID); err != nil {
			return err
		}
		accepted(subjects[0])
		return nil
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()
	acks := make([]jetstream.PubAckFuture, 0, len(subjects))
	for _, subj := range subjects {
		fut, err := f.JS.PublishAsync(subj, data, jetstream.WithMsgID(cmd.RequestID+"/"+subj))
		if err != nil {
			return fmt.Errorf("%w: publish %s: %v", ErrUnavailable, subj, err)
		}
		acks = append(acks, fut)
	}
	for _, fut := range acks {
		select {
		case <-fut.Ok():
			accepted(fut.Msg().Subject)
		case err := <-fut.Err():
			return fmt.Errorf("%w: publish %s: %v", ErrUnavailable, fut.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("%w: publish %s: %v", ErrUnavailable, fut.Msg().Subject, ctx.Err())
		}
	}
	return nil
}

// publish sends one command to the EXEC stream; core subscribers receive
// it at the same moment. msgID makes a retried publication harmless.
func (f *Fanout) publish(ctx context.Context, subject string, cmd wire.Command, msgID string) error {
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()
	if _, err := f.JS.Publish(ctx, subject, data, jetstream.WithMsgID(msgID+"/"+subject)); err != nil {
		return fmt.Errorf("%w: publish %s: %v", ErrUnavailable, subject, err)
	}
	return nil
}

// resolve lists the PCs the target matches now: alive ones for all and
// groups, the listed ones for pcs, as a de-duplicated union.
func (f *Fanout) resolve(ctx context.Context, now time.Time, plan manifest.Plan) ([]string, error) {
	t := plan.Target
	if plan.HasRollout() {
		t = manifest.Target{}
		for _, w := range plan.Rollout.Waves {
			t.Groups = append(t.Groups, w.Group)
		}
	}
	var pcs []string
	if t.All || len(t.Groups) > 0 {
		alive, err := f.Store.OnlinePCs(ctx, now, t.All, t.Groups)
		if err != nil {
			return nil, err
		}
		pcs = append(pcs, alive...)
	}
	pcs = append(pcs, t.PCs...)
	slices.Sort(pcs)
	return slices.Compact(pcs), nil
}

// Subjects lists where a target's single Command goes. commands.all
// already reaches everyone, so with all set nothing else is published.
func Subjects(t manifest.Target) []string {
	if t.All {
		return []string{wire.SubjectCommandsAll}
	}
	var out []string
	for _, g := range uniq(t.Groups) {
		out = append(out, wire.SubjectCommandsGroup(g))
	}
	for _, pc := range uniq(t.PCs) {
		out = append(out, wire.SubjectCommandsPC(pc))
	}
	return out
}

func waveSubjects(r *manifest.Rollout) []string {
	var out []string
	for _, w := range r.Waves {
		out = append(out, wire.SubjectCommandsGroup(w.Group))
	}
	return uniq(out)
}

func uniq(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// NewCommand builds the one Command of an exec.
func NewCommand(job *manifest.Job, plan manifest.Plan, execID, actor string, now time.Time) wire.Command {
	return job.Command(execID, uuid.NewString(), actor, plan.Jitter.Std(), plan.DeadlineAt, now)
}

func (f *Fanout) audit(ctx context.Context, actor, action, target string, payload any) {
	if f.Audit == nil {
		return
	}
	if err := f.Audit.Publish(ctx, actor, action, target, payload); err != nil {
		f.log().Warn("audit", "action", action, "err", err)
	}
}

func (f *Fanout) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fanout) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return 5 * time.Second
}

func (f *Fanout) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}
