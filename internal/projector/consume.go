package projector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/ident"
	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/wire"
)

// deadLetterBytes is how much of an undecodable message is kept.
const deadLetterBytes = 4 << 10

// streamSpec is one projected stream: decode appends a message to the
// batch or returns why it is poison.
type streamSpec struct {
	stream string
	filter string
	decode func(p *Projector, m jetstream.Msg, meta *jetstream.MsgMetadata, b *store.Batch) error
}

func (p *Projector) streams() []streamSpec {
	return []streamSpec{
		{stream: wire.StreamResults, filter: wire.SubjectResultsAny, decode: decodeResult},
		{stream: wire.StreamEvents, filter: "events.started.>", decode: decodeStarted},
		{stream: wire.StreamAudit, filter: wire.SubjectAuditAny, decode: decodeAudit},
		{stream: wire.StreamInventory, filter: wire.SubjectInvAny, decode: decodeInventory},
	}
}

func (p *Projector) consumerConfig(s streamSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(p.Instance(), s.stream),
		FilterSubject: s.filter,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Explicit acks, one per message: with AckAll an ack also covers
		// deliveries the client dropped (a reply that reached an expired
		// pull request), and those messages were never projected.
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           p.opts.AckWait,
		MaxAckPending:     max(4*p.opts.Batch, 1000),
		MaxRequestBatch:   0,
		InactiveThreshold: p.opts.InactiveThreshold,
	}
}

// fetched is one decoded batch waiting to be applied.
type fetched struct {
	msgs  []jetstream.Msg
	batch *store.Batch
}

// consume runs one stream's fetch → apply → commit → ack pipeline until
// ctx ends. Fetching and decoding the next batch overlaps with applying
// the current one, so the single SQLite writer is never idle waiting on
// the broker; a message is acked only after the commit that applied it.
func (p *Projector) consume(ctx context.Context, s streamSpec) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan fetched, 1)
	var wg sync.WaitGroup
	wg.Go(func() { p.fetchLoop(ctx, s, ready) })
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-ready:
			if !p.applyWithRetry(ctx, s, f) {
				return // ctx ended before the batch committed: not acked, redelivered later
			}
		}
	}
}

// fetchLoop reads batches from a continuous pull and decodes them into
// ready until ctx ends. A consumer that disappears (deleted, broker
// restart) is re-created; with DeliverAll a re-created consumer replays,
// which is harmless.
//
// It uses one long-lived pull subscription (Consumer.Messages) rather
// than a Fetch per batch: a Fetch unsubscribes when its client-side timer
// fires, and on a loaded box the broker's reply could arrive after that;
// those messages were dropped and came back only after AckWait, which
// stalled a 10 000-PC execution short of completed.
func (p *Projector) fetchLoop(ctx context.Context, s streamSpec, ready chan<- fetched) {
	log := p.log.With("stream", s.stream)
	var cons jetstream.Consumer
	var it jetstream.MessagesContext
	stop := func() {
		if it != nil {
			it.Stop()
		}
		it, cons = nil, nil
	}
	defer stop()
	var backoff time.Duration
	empty := 0
	for ctx.Err() == nil {
		if it == nil {
			var err error
			if cons, it, err = p.subscribe(ctx, s); err != nil {
				backoff = p.nextBackoff(backoff)
				log.Warn("create consumer", "err", err, "retry_in", backoff)
				sleep(ctx, backoff)
				continue
			}
			backoff = 0
		}
		msgs, err := p.nextBatch(it)
		if len(msgs) == 0 {
			switch {
			case errors.Is(err, nats.ErrTimeout):
				// An idle pull on a consumer that no longer exists may say
				// nothing; look every few idle waits.
				if empty++; empty%idleChecks == 0 && !consumerExists(ctx, cons) {
					stop()
				}
			case err != nil:
				log.Debug("pull", "err", err)
				stop() // re-create (idempotent) in case it was deleted
				sleep(ctx, p.opts.RetryMin)
			}
			continue
		}
		empty = 0
		if err != nil {
			stop() // apply what arrived, then start a fresh pull
		}
		b := p.buildBatch(s, msgs)
		select {
		case ready <- fetched{msgs: msgs, batch: b}:
		case <-ctx.Done():
			return
		}
	}
}

// subscribe creates (or updates) the durable consumer and opens its
// continuous pull, buffering about one batch ahead.
func (p *Projector) subscribe(ctx context.Context, s streamSpec) (jetstream.Consumer, jetstream.MessagesContext, error) {
	c, err := p.js.CreateOrUpdateConsumer(ctx, s.stream, p.consumerConfig(s))
	if err != nil {
		return nil, nil, err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(p.opts.Batch))
	if err != nil {
		return nil, nil, fmt.Errorf("pull from %s: %w", s.stream, err)
	}
	return c, it, nil
}

// batchGap ends a batch early when the stream pauses this long: a lone
// message is projected within this instead of after FetchWait. It is not
// shorter because on a saturated box (a fleet answering at once) the next
// message is often tens of milliseconds away, and cutting batches there
// multiplied the commits the same CPU had to pay for.
const batchGap = 100 * time.Millisecond

// nextBatch waits up to FetchWait for a first message, then takes more
// until the batch is full, the stream pauses for batchGap, or FetchWait
// has passed since the first one. It returns nats.ErrTimeout when idle.
func (p *Projector) nextBatch(it jetstream.MessagesContext) ([]jetstream.Msg, error) {
	first, err := it.Next(jetstream.NextMaxWait(p.opts.FetchWait))
	if err != nil {
		return nil, err
	}
	msgs := []jetstream.Msg{first}
	deadline := time.Now().Add(p.opts.FetchWait)
	for len(msgs) < p.opts.Batch {
		wait := min(batchGap, time.Until(deadline))
		if wait <= 0 {
			break
		}
		m, err := it.Next(jetstream.NextMaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// idleChecks is how many empty waits pass between existence checks.
const idleChecks = 10

func consumerExists(ctx context.Context, c jetstream.Consumer) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.Info(ctx)
	return !errors.Is(err, jetstream.ErrConsumerNotFound)
}

// applyWithRetry commits the batch, retrying DB errors with backoff, then
// acks it. It returns false only when ctx ended first.
func (p *Projector) applyWithRetry(ctx context.Context, s streamSpec, f fetched) bool {
	b, msgs := f.batch, f.msgs
	var backoff time.Duration
	for {
		touched, err := p.st.Apply(ctx, b)
		if err == nil {
			p.stats.Applied.Add(int64(len(msgs)))
			p.stats.DeadLetters.Add(int64(len(b.DeadLetters)))
			ackAll(p, s, msgs)
			p.notify(touched)
			return true
		}
		p.stats.DBErrors.Add(1)
		backoff = p.nextBackoff(backoff)
		p.log.Error("apply batch, not acked", "stream", s.stream, "n", len(msgs), "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
	}
}

// ackAll acks a committed batch. Acks are fire-and-forget publishes; a
// lost one only means a redelivery, which the store applies idempotently.
func ackAll(p *Projector, s streamSpec, msgs []jetstream.Msg) {
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			p.log.Warn("ack", "stream", s.stream, "subject", m.Subject(), "err", err)
			return
		}
	}
}

// buildBatch decodes msgs; poison becomes dead letters.
func (p *Projector) buildBatch(s streamSpec, msgs []jetstream.Msg) *store.Batch {
	b := &store.Batch{}
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			// Not a JetStream message: nothing to ack or record.
			p.log.Warn("message without metadata", "stream", s.stream, "subject", m.Subject(), "err", err)
			continue
		}
		if err := s.decode(p, m, meta, b); err != nil {
			b.DeadLetters = append(b.DeadLetters, deadLetter(s.stream, m, meta, err))
		}
	}
	return b
}

func deadLetter(stream string, m jetstream.Msg, meta *jetstream.MsgMetadata, err error) store.DeadLetter {
	data := m.Data()
	if len(data) > deadLetterBytes {
		data = data[:deadLetterBytes]
	}
	return store.DeadLetter{Stream: stream, Seq: meta.Sequence.Stream, Subject: m.Subject(),
		Error: err.Error(), Data: append([]byte(nil), data...), RecordedAt: meta.Timestamp}
}

// subjectIDs checks that subject is prefix.<exec>.<pc> and returns both.
func subjectIDs(subject, prefix string) (string, string, error) {
	rest, ok := strings.CutPrefix(subject, prefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 2 {
		return "", "", fmt.Errorf("subject %q: want %s<exec_id>.<pc_id>", subject, prefix)
	}
	return parts[0], parts[1], nil
}

// checkIDs validates the ids of a started event or result and that they
// match the subject, so an agent cannot report for another PC or exec.
func checkIDs(subject, prefix, resultID, execID, jobID, pcID string) error {
	err := errors.Join(ident.Check("result_id", resultID), ident.Check("exec_id", execID),
		ident.Check("job_id", jobID), ident.Check("pc_id", pcID))
	if err != nil {
		return err
	}
	sExec, sPC, err := subjectIDs(subject, prefix)
	if err != nil {
		return err
	}
	if sExec != execID || sPC != pcID {
		return fmt.Errorf("subject %q does not match exec_id %q / pc_id %q", subject, execID, pcID)
	}
	return nil
}

func decodeResult(_ *Projector, m jetstream.Msg, meta *jetstream.MsgMetadata, b *store.Batch) error {
	var r wire.ExecResult
	if err := json.Unmarshal(m.Data(), &r); err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	if err := checkIDs(m.Subject(), "results.", r.ResultID, r.ExecID, r.JobID, r.PCID); err != nil {
		return fmt.Errorf("invalid result: %w", err)
	}
	b.Results = append(b.Results, store.ResultMsg{ExecResult: r, RecordedAt: meta.Timestamp})
	return nil
}

func decodeStarted(p *Projector, m jetstream.Msg, meta *jetstream.MsgMetadata, b *store.Batch) error {
	var s wire.Started
	if err := json.Unmarshal(m.Data(), &s); err != nil {
		return fmt.Errorf("decode started event: %w", err)
	}
	if err := checkIDs(m.Subject(), "events.started.", s.ResultID, s.ExecID, s.JobID, s.PCID); err != nil {
		return fmt.Errorf("invalid started event: %w", err)
	}
	if s.StartedAt.IsZero() {
		s.StartedAt = meta.Timestamp
	}
	b.Started = append(b.Started, store.StartedMsg{Started: s, RecordedAt: meta.Timestamp,
		LostAfter: p.lostAfter(s)})
	return nil
}

// lostAfter is started_at + timeout + max(2 min, timeout/2) (SPEC §4.1).
func (p *Projector) lostAfter(s wire.Started) time.Time {
	timeout := time.Duration(s.TimeoutSecs) * time.Second
	if timeout <= 0 {
		timeout = p.opts.DefaultTimeout
	}
	return s.StartedAt.Add(timeout + max(2*time.Minute, timeout/2))
}

// auditWire is wire.AuditEvent with the payload kept verbatim.
type auditWire struct {
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Target     string          `json:"target"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
}

func decodeAudit(_ *Projector, m jetstream.Msg, meta *jetstream.MsgMetadata, b *store.Batch) error {
	var a auditWire
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		return fmt.Errorf("decode audit event: %w", err)
	}
	if a.Action == "" {
		return errors.New("invalid audit event: action is empty")
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = meta.Timestamp
	}
	b.Audit = append(b.Audit, store.AuditEntry{Seq: meta.Sequence.Stream, Actor: a.Actor, Action: a.Action,
		Target: a.Target, Payload: a.Payload, OccurredAt: a.OccurredAt, RecordedAt: meta.Timestamp})
	return nil
}

func decodeInventory(_ *Projector, m jetstream.Msg, meta *jetstream.MsgMetadata, b *store.Batch) error {
	var inv wire.Inventory
	if err := json.Unmarshal(m.Data(), &inv); err != nil {
		return fmt.Errorf("decode inventory: %w", err)
	}
	if err := ident.Check("pc_id", inv.PCID); err != nil {
		return fmt.Errorf("invalid inventory: %w", err)
	}
	if m.Subject() != wire.SubjectInventory(inv.PCID) {
		return fmt.Errorf("invalid inventory: subject %q does not match pc_id %q", m.Subject(), inv.PCID)
	}
	if inv.CollectedAt.IsZero() {
		inv.CollectedAt = meta.Timestamp
	}
	b.Inventory = append(b.Inventory, store.InventoryMsg{Inventory: inv, RecordedAt: meta.Timestamp})
	return nil
}
