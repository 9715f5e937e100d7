package scheduler

import (
	"context"
	"time"

	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/store"
)

// The scheduler talks to the rest of the backend only through these small
// interfaces, so a tick can be driven in a test without a whole server.

// Dispatcher publishes an exec and tells accepted (sequentially) each
// subject the broker has stored before it returns; *fanout.Fanout is the
// real one.
type Dispatcher interface {
	Dispatch(ctx context.Context, job *manifest.Job, plan manifest.Plan, actor string, accepted fanout.Accepted) (*fanout.Answer, error)
}

// Fleet is the projection as the scheduler sees it; *store.Store is the
// real one.
type Fleet interface {
	TargetPCs(ctx context.Context, now time.Time, all bool, groups []string) (online, roster []string, err error)
	Completions(ctx context.Context, jobID string, pcs []string) ([]store.Completion, error)
	InsertTick(ctx context.Context, t store.Tick, keep int) error
}

// Jobs reads the job catalog at tick time. ErrJobMissing means the job
// does not exist (a skip); any other error is a read failure.
type Jobs interface {
	Job(ctx context.Context, id string) (*manifest.Job, error)
}

// Marks are the in-flight dispatch marks of SPEC §4.4. Every method is
// best effort: callers treat an error as "no marks".
type Marks interface {
	// Read returns, in one bulk read, every PC mark of a schedule and its
	// whole-target mark (nil when absent).
	Read(ctx context.Context, scheduleID string) (map[string]time.Time, *time.Time, error)
	// WritePCs marks pcs as dispatched at at; WriteTarget the whole target.
	WritePCs(ctx context.Context, scheduleID string, pcs []string, at time.Time) error
	WriteTarget(ctx context.Context, scheduleID string, at time.Time) error
}

// Ledger records the last tick minute fired per schedule, shared by every
// replica, so a minute is fired at most once across a lease hand-over.
type Ledger interface {
	// Claim records minute for scheduleID unless that minute or a later
	// one is already recorded (ok = false). release undoes the claim,
	// for a dispatch that failed and must stay armed.
	Claim(ctx context.Context, scheduleID string, minute time.Time) (ok bool, release func(), err error)
}

// Results feeds coverage: the newest result per PC of a job.
type Results interface {
	LatestResults(ctx context.Context, jobID string, pcs []string) ([]store.Result, error)
}
