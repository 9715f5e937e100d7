package api

import (
	"net/http"

	"github.com/nats-io/nats.go"
)

// maxHealthyLag is how many unprojected messages still count as healthy.
const maxHealthyLag = 10_000

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	counts, err := a.Store.HealthCounts(r.Context(), a.Now())
	if err != nil {
		return err
	}
	breakdown, err := a.Store.AgentBreakdown(r.Context(), a.Now())
	if err != nil {
		return err
	}
	broker := a.NC.Status() == nats.CONNECTED
	lag, lagErr := a.Projector.Lag(r.Context())
	var total uint64
	for _, n := range lag {
		total += n
	}
	degraded := !broker || lagErr != nil || total > maxHealthyLag
	body := map[string]any{
		"status": map[bool]string{true: "degraded", false: "ok"}[degraded],
		"agents": map[string]any{
			"known": counts.Known, "online": counts.Online, "offline": counts.Offline,
			"by_os": breakdown.ByOS, "by_version": breakdown.ByVersion,
		},
		"results_24h":  counts.Results24h,
		"dead_letters": counts.DeadLetters,
		"broker":       map[string]any{"connected": broker, "status": a.NC.Status().String()},
		"projector":    map[string]any{"lag": lag, "total_lag": total},
	}
	if lagErr != nil {
		body["projector"].(map[string]any)["error"] = lagErr.Error()
	}
	status := http.StatusOK
	if degraded {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, body)
}
