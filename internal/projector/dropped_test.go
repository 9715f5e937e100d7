package projector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/store"
	"github.com/kanade-dev/kanade/internal/testutil"
	"github.com/kanade-dev/kanade/internal/wire"
)

// A delivery the client dropped (its pull request had expired) must come
// back and be projected: acking the messages after it must not cover it.
// Under AckAll this result was acked unseen and lost for good.
func TestDroppedDeliveryIsRedeliveredNotAcked(t *testing.T) {
	e := newEnv(t, store.Options{})
	ctx := context.Background()
	o := fastOpts()
	o.AckWait = time.Second
	id, err := e.st.InstanceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := New(e.b.JS, e.b.NC, e.st, o)
	spec := p.streams()[0]
	cfg := p.consumerConfig(spec)
	cfg.Durable = ConsumerName(id, wire.StreamResults)
	cons, err := e.b.JS.CreateOrUpdateConsumer(ctx, wire.StreamResults, cfg)
	if err != nil {
		t.Fatal(err)
	}
	exec := "11111111-2222-3333-4444-555555555555"
	e.result(res(exec, "dropped", "r-0", 0), "")
	// Take the first delivery and lose it, as a client does with a reply
	// that reaches an expired fetch.
	mb, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range mb.Messages() {
	}
	for i := 1; i <= 20; i++ {
		e.result(res(exec, fmt.Sprintf("pc%d", i), fmt.Sprintf("r-%d", i), 0), "")
	}
	e.start(o)
	testutil.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		page, err := e.st.ListResults(ctx, store.ResultFilter{ExecID: exec, Limit: 100})
		if err != nil {
			return err
		}
		if page.Total != 21 {
			return fmt.Errorf("%d of 21 results projected", page.Total)
		}
		return nil
	})
}
