package scheduler

import (
	"github.com/kanade-dev/kanade/internal/api"
	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/store"
)

// The real parts satisfy the scheduler's interfaces, and the scheduler
// satisfies the API's: the server wires them without adapters.
var (
	_ api.ScheduleService = (*Scheduler)(nil)
	_ Dispatcher          = (*fanout.Fanout)(nil)
	_ Fleet               = (*store.Store)(nil)
	_ Results             = StoreResults{Store: (*store.Store)(nil)}
)
