// Package loop holds the one periodic loop the backend's background jobs
// (reaper, rollout waves, memory trim) share.
package loop

import (
	"context"
	"time"
)

// Every calls fn once per interval, the first time one interval from now,
// and never after ctx ended (a tick and the end can arrive together). A
// call in progress is not interrupted by the loop; fn sees ctx.
func Every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		fn(ctx)
	}
}
