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
	kick    chan struct{}
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
	names, err := o.pending()
	if err != nil {
		return false
	}
	for _, n := range names {
		e, err := o.read(n)
		if err == nil && e.MsgID == msgID {
			return true
		}
	}
	return false
}

// Len is the number of queued entries.
func (o *outbox) Len() int {
	names, _ := o.pending()
	return len(names)
}

func (o *outbox) read(name string) (outboxEntry, error) {
	var e outboxEntry
	data, err := os.ReadFile(filepath.Join(o.dir, name))
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(data, &e)
}

// publishFunc sends one entry and returns after the broker acked it.
type publishFunc func(ctx context.Context, e outboxEntry) error

// errPermanent marks a publish error that no retry can fix.
var errPermanent = errors.New("permanent publish error")

// Flush publishes every queued entry in order and stops at the first
// failure, so order is kept across outages. An unreadable entry cannot be
// delivered ever; it is moved aside (not deleted) so that it neither
// blocks the queue nor vanishes without trace.
func (o *outbox) Flush(ctx context.Context, publish publishFunc) (int, error) {
	names, err := o.pending()
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range names {
		path := filepath.Join(o.dir, n)
		e, err := o.read(n)
		if err == nil {
			err = publish(ctx, e)
		} else {
			err = fmt.Errorf("%w: decode %s: %v", errPermanent, n, err)
		}
		if errors.Is(err, errPermanent) {
			_ = os.Rename(path, path+".bad")
			return sent, err
		}
		if err != nil {
			return sent, err
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return sent, fmt.Errorf("remove acked outbox entry: %w", err)
		}
		sent++
	}
	return sent, nil
}
