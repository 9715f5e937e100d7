package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/wire"
)

const (
	publishTimeout = 10 * time.Second
	backoffMin     = 200 * time.Millisecond
	backoffMax     = 30 * time.Second
	// headerRoom leaves space for the Nats-Msg-Id header and protocol
	// overhead under the server's max payload.
	headerRoom = 4 << 10
)

// outboxLoop delivers queued messages in order. After a failure it backs
// off; a reconnect or a new entry kicks it early.
func (a *Agent) outboxLoop(ctx context.Context) {
	backoff := backoffMin
	for {
		_, err := a.outbox.Flush(ctx, a.publishEntry)
		var wait <-chan time.Time
		switch {
		case errors.Is(err, errPermanent):
			a.log.Error("outbox entry can never be delivered; moved aside", "err", err)
			continue
		case err != nil:
			a.log.Debug("outbox delivery paused", "err", err, "retry_in", backoff, "pending", a.outbox.Len())
			wait = time.After(backoff)
			backoff = min(backoff*2, backoffMax)
		default:
			backoff = backoffMin
		}
		select {
		case <-ctx.Done():
			return
		case <-a.outbox.kick:
		case <-wait:
		}
	}
}

// publishEntry publishes one entry to JetStream and waits for the ack;
// the returned wait only reports that outcome. It is synchronous on
// purpose: an asynchronous publish needs a second reply subscription per
// connection, which 10 000 agents created at once on their first result
// (8% of the broker's CPU in a fan-out round). While disconnected it fails
// fast instead of filling the reconnect buffer; a retried publish whose
// first ack was lost is dropped by the stream's duplicate window
// (Nats-Msg-Id).
func (a *Agent) publishEntry(ctx context.Context, e outboxEntry) (func() error, error) {
	if !a.nc.IsConnected() {
		return nil, errNotConnected
	}
	data := []byte(e.Data)
	if limit := int(a.nc.MaxPayload()) - headerRoom; limit > 0 && len(data) > limit {
		var err error
		if data, err = shrinkResult(e, limit); err != nil {
			return nil, fmt.Errorf("%w: %v", errPermanent, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	_, err := a.js.Publish(ctx, e.Subject, data, jetstream.WithMsgID(e.MsgID))
	if errors.Is(err, nats.ErrMaxPayload) {
		return nil, fmt.Errorf("%w: %v", errPermanent, err)
	}
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", e.Subject, err)
	}
	return acked, nil
}

func acked() error { return nil }

// shrinkResult re-truncates a result's output (head and tail again) so it
// fits a broker whose max payload is smaller than the capture cap; the
// result arrives marked truncated instead of never arriving.
func shrinkResult(e outboxEntry, limit int) ([]byte, error) {
	if !strings.HasPrefix(e.Subject, "results.") {
		return nil, fmt.Errorf("%s message of %d bytes exceeds max payload", e.Subject, len(e.Data))
	}
	var res wire.ExecResult
	if err := json.Unmarshal(e.Data, &res); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	// JSON escaping can double the size of odd bytes; a quarter of the
	// limit per stream leaves room for that and the other fields.
	per := limit / 4
	var t bool
	res.Stdout, t = truncateHeadTail(res.Stdout, per)
	res.StdoutTruncated = res.StdoutTruncated || t
	res.Stderr, t = truncateHeadTail(res.Stderr, per)
	res.StderrTruncated = res.StderrTruncated || t
	return json.Marshal(res)
}

// heartbeat publishes on core NATS; missing one while disconnected is
// fine, so nothing is buffered for later.
func (a *Agent) heartbeat() {
	if !a.nc.IsConnected() {
		return
	}
	goos, arch := a.hostInfo()
	hb := wire.Heartbeat{
		PCID: a.cfg.PCID, At: time.Now().UTC(), AgentVersion: a.cfg.Version,
		Hostname: a.hostname, OS: goos, Arch: arch, BootTime: a.bootTime,
	}
	if a.proc != nil {
		hb.AgentRSSBytes, hb.AgentCPUPct = a.proc.sample(hb.At)
	}
	data, err := json.Marshal(hb)
	if err != nil {
		return
	}
	if err := a.nc.Publish(wire.SubjectHeartbeat(a.cfg.PCID), data); err != nil {
		a.log.Debug("heartbeat not sent", "err", err)
	}
}
