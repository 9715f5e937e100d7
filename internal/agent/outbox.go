package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// outboxEntry is one message waiting for its JetStream ack.
type outboxEntry struct {
	Subject string          `json:"subject"`
	MsgID   string          `json:"msg_id"`
	Data    json.RawMessage `json:"data"`
}

// outbox is a directory of numbered files, one per message, published in
// number order and deleted only after the broker acked them. Files (not a
// single log) make "remove after ack" a plain unlink and keep a torn write
// confined to one message.
type outbox struct {
	dir   string
	fsync bool

	mu      sync.Mutex
	nextSeq uint64
	// queue mirrors the entry files in publish order, so a flush neither
	// lists the directory nor re-reads and re-decodes files it wrote
	// itself (three of the agent's busiest syscalls per command).
	queue []queued
	kick  chan struct{}
}

// queued is one entry file and its decoded content; err is set when the
// file (left by an earlier process) does not decode.
type queued struct {
	name string
	e    outboxEntry
	err  error
}

const outboxExt = ".json"

func openOutbox(dir string, fsync bool) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox dir: %w", err)
	}
	o := &outbox{dir: dir, fsync: fsync, kick: make(chan struct{}, 1)}
	o.removeTemps()
	names, err := o.pending()
	if err != nil {
		return nil, err
	}
	o.nextSeq = 1
	if len(names) > 0 {
		last, _ := strconv.ParseUint(strings.TrimSuffix(names[len(names)-1], outboxExt), 10, 64)
		o.nextSeq = last + 1
	}
	for _, n := range names {
		e, err := o.read(n)
		o.queue = append(o.queue, queued{name: n, e: e, err: err})
	}
	return o, nil
}

// Put writes e durably and wakes the sender.
func (o *outbox) Put(e outboxEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode outbox entry: %w", err)
	}
	// The lock spans the write so that numbering order is file order:
	// a started event must never be published after its result.
	o.mu.Lock()
	defer o.mu.Unlock()
	name := fmt.Sprintf("%020d%s", o.nextSeq, outboxExt)
	tmp := filepath.Join(o.dir, ".tmp-"+name)
	if err := writeFileAtomic(tmp, filepath.Join(o.dir, name), data, o.fsync); err != nil {
		return fmt.Errorf("write outbox entry: %w", err)
	}
	o.nextSeq++
	o.queue = append(o.queue, queued{name: name, e: e})
	o.Kick()
	return nil
}

// Kick wakes the sender without blocking.
func (o *outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// removeTemps deletes temp files of a crash before the rename; nobody
// was told they were queued. Only safe before any Put runs.
func (o *outbox) removeTemps() {
	ents, _ := os.ReadDir(o.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(o.dir, e.Name()))
		}
	}
}

// pending lists queued entry files in publish order.
func (o *outbox) pending() ([]string, error) {
	ents, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".tmp-") && strings.HasSuffix(n, outboxExt) {
			names = append(names, n)
		}
	}
	slices.Sort(names) // zero-padded numbers sort as text
	return names, nil
}

// Has reports whether an entry with msgID is queued.
func (o *outbox) Has(msgID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, q := range o.queue {
		if q.err == nil && q.e.MsgID == msgID {
			return true
		}
	}
	return false
}

// Len is the number of queued entries.
func (o *outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

func (o *outbox) snapshot() []queued {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.queue)
}

// drop forgets a delivered or moved-aside entry.
func (o *outbox) drop(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = slices.DeleteFunc(o.queue, func(q queued) bool { return q.name == name })
}

func (o *outbox) read(name string) (outboxEntry, error) {
	var e outboxEntry
	data, err := os.ReadFile(filepath.Join(o.dir, name))
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(data, &e)
}

// sendFunc starts publishing one entry; the returned wait blocks until
// the broker acked it (nil) or it failed. A sender may also be
// synchronous and return an already-settled wait.
type sendFunc func(ctx context.Context, e outboxEntry) (wait func() error, err error)

// errPermanent marks a publish error that no retry can fix.
var errPermanent = errors.New("permanent publish error")

// flushWindow bounds the publishes in flight during one flush.
const flushWindow = 64

// inflight is a started publish waiting for its ack.
type inflight struct {
	q    queued
	wait func() error
}

// Flush publishes every queued entry in order and stops at the first
// failure, so order is kept across outages. Publishes are pipelined (a
// started event and its result leave together instead of one broker
// round trip each) when the sender is asynchronous; an entry's file is still removed only after its own
// ack, in queue order. Entries sent after a failed one stay queued and
// are sent again later: the stream drops the copy by Nats-Msg-Id. An
// unreadable entry cannot be delivered ever; it is moved aside (not
// deleted) so that it neither blocks the queue nor vanishes without trace.
func (o *outbox) Flush(ctx context.Context, send sendFunc) (int, error) {
	sent := 0
	var pending []inflight
	for _, q := range o.snapshot() {
		var wait func() error
		err := q.err
		if err != nil {
			err = fmt.Errorf("%w: decode %s: %v", errPermanent, q.name, err)
		} else {
			wait, err = send(ctx, q.e)
		}
		if err != nil {
			n, derr := o.settle(pending)
			if derr != nil {
				return sent + n, derr
			}
			return sent + n, o.failed(q, err)
		}
		if pending = append(pending, inflight{q: q, wait: wait}); len(pending) >= flushWindow {
			n, err := o.settle(pending)
			if sent += n; err != nil {
				return sent, err
			}
			pending = pending[:0]
		}
	}
	n, err := o.settle(pending)
	return sent + n, err
}

// settle waits for each publish's ack in order and removes its entry.
func (o *outbox) settle(pending []inflight) (int, error) {
	for i, p := range pending {
		if err := p.wait(); err != nil {
			return i, o.failed(p.q, err)
		}
		if err := o.remove(p.q); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}

// failed moves a permanently undeliverable entry aside; other errors
// leave it queued for the next attempt.
func (o *outbox) failed(q queued, err error) error {
	if errors.Is(err, errPermanent) {
		path := filepath.Join(o.dir, q.name)
		_ = os.Rename(path, path+".bad")
		o.drop(q.name)
	}
	return err
}

func (o *outbox) remove(q queued) error {
	if err := os.Remove(filepath.Join(o.dir, q.name)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove acked outbox entry: %w", err)
	}
	o.drop(q.name)
	return nil
}
