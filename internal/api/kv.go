package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/fanout"
)

// kv opens a bucket; failing to reach it is a 503, not a 500.
func (a *API) kv(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := a.JS.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("%w: open bucket %s: %v", fanout.ErrUnavailable, bucket, err)
	}
	return kv, nil
}

// kvGet reads one key; a missing key is a 404 naming what was looked for.
func (a *API) kvGet(ctx context.Context, bucket, key, what string) ([]byte, error) {
	kv, err := a.kv(ctx, bucket)
	if err != nil {
		return nil, err
	}
	entry, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, notFound("%s %q not found", what, key)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: get %s %q: %v", fanout.ErrUnavailable, what, key, err)
	}
	return entry.Value(), nil
}

// kvAll reads every value of a bucket (jobs and schedules are catalogs of
// hundreds, not fleets).
func (a *API) kvAll(ctx context.Context, bucket string) (map[string][]byte, error) {
	kv, err := a.kv(ctx, bucket)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: list %s: %v", fanout.ErrUnavailable, bucket, err)
	}
	out := map[string][]byte{}
	for key := range lister.Keys() {
		entry, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted between listing and reading
		}
		if err != nil {
			return nil, fmt.Errorf("%w: get %s %q: %v", fanout.ErrUnavailable, bucket, key, err)
		}
		out[key] = entry.Value()
	}
	return out, nil
}

func (a *API) kvPut(ctx context.Context, bucket, key string, value []byte) error {
	kv, err := a.kv(ctx, bucket)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		return fmt.Errorf("%w: put %s %q: %v", fanout.ErrUnavailable, bucket, key, err)
	}
	return nil
}

func (a *API) kvDelete(ctx context.Context, bucket, key string) error {
	kv, err := a.kv(ctx, bucket)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("%w: delete %s %q: %v", fanout.ErrUnavailable, bucket, key, err)
	}
	return nil
}

// audit records a state change; a failure is logged, the change stands.
func (a *API) audit(ctx context.Context, who, action, target string, payload any) {
	if a.Audit == nil {
		return
	}
	if err := a.Audit.Publish(ctx, who, action, target, payload); err != nil {
		a.Log.Warn("audit", "action", action, "target", target, "err", err)
	}
}
