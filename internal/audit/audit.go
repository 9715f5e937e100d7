// Package audit publishes the audit events every state change emits. The
// AUDIT stream is the record; the projector copies it into SQLite.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/wire"
)

// Publisher writes audit events to the AUDIT stream.
type Publisher struct {
	JS  jetstream.JetStream
	Now func() time.Time
}

// Publish records one action. action becomes the subject suffix, so it is a
// fixed word chosen by code ("exec", "job.apply"), never user input.
func (p *Publisher) Publish(ctx context.Context, actor, action, target string, payload any) error {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ev := wire.AuditEvent{Actor: actor, Action: action, Target: target, Payload: payload, OccurredAt: now().UTC()}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit %s: %w", action, err)
	}
	if _, err := p.JS.Publish(ctx, wire.SubjectAudit(action), data); err != nil {
		return fmt.Errorf("publish audit %s: %w", action, err)
	}
	return nil
}
