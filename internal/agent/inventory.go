package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/inventory"
	"github.com/kanade-dev/kanade/internal/wire"
)

const (
	inventoryCollectTimeout = 2 * time.Minute
	inventoryRetry          = time.Minute
)

// requestInventory marks an inventory as owed and wakes the publisher.
func (a *Agent) requestInventory() {
	if a.cfg.NoInventory {
		return
	}
	a.invDue.Store(true)
	select {
	case a.invKick <- struct{}{}:
	default:
	}
}

// inventoryLoop publishes owed inventories. It runs apart from the event
// loop because collecting can take seconds (disks, users). An inventory
// that could not be published stays owed: it is retried on reconnect, or
// after a minute when the broker was reachable but refused it.
func (a *Agent) inventoryLoop(ctx context.Context) {
	for {
		var retry <-chan time.Time
		if a.invDue.Load() && a.nc.IsConnected() {
			if err := a.publishInventory(ctx); err != nil {
				a.log.Warn("inventory not published; retrying", "err", err)
				retry = time.After(inventoryRetry)
			} else {
				a.invDue.Store(false)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-a.invKick:
		case <-retry:
		}
	}
}

func (a *Agent) publishInventory(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, inventoryCollectTimeout)
	facts, err := a.cfg.Inventory(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("collect inventory: %w", err)
	}
	inv := wire.Inventory{PCID: a.cfg.PCID, CollectedAt: time.Now().UTC(), Facts: facts}
	data, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode inventory: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	// The msg id makes a retried publish whose ack was lost harmless.
	id := a.cfg.PCID + ":" + inv.CollectedAt.Format(time.RFC3339Nano)
	if _, err := a.js.Publish(pctx, wire.SubjectInventory(a.cfg.PCID), data, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish inventory: %w", err)
	}
	return nil
}

// sharedCollect is the default collector. Agents in one process (the dev
// server's, a simulator's thousands) share one host, so one collection a
// minute serves them all.
var sharedCollect = func() func(context.Context) (map[string]any, error) {
	var (
		mu    sync.Mutex
		at    time.Time
		facts map[string]any
	)
	return func(ctx context.Context) (map[string]any, error) {
		mu.Lock()
		defer mu.Unlock()
		if facts != nil && time.Since(at) < time.Minute {
			return facts, nil
		}
		f, err := inventory.Collect(ctx)
		if err != nil {
			return nil, err
		}
		facts, at = f, time.Now()
		return facts, nil
	}
}()
