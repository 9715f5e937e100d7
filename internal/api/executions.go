package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kanade-dev/kanade/internal/store"
)

func (a *API) executionRoutes() {
	a.handle("GET /api/executions", RoleViewer, a.listExecutions)
	a.handle("GET /api/executions/{id}", RoleViewer, a.getExecution)
	a.handle("GET /api/executions/{id}/stream", RoleViewer, a.streamExecution)
}

func (a *API) listExecutions(w http.ResponseWriter, r *http.Request) error {
	lp, err := a.listParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", store.StatusPending, store.StatusRunning, store.StatusCompleted, store.StatusExpired:
	default:
		return badRequest("status: want pending, running, completed or expired, got %q", status)
	}
	page, err := a.Store.ListExecutions(r.Context(), store.ExecutionFilter{
		JobID: q.Get("job"), Status: status, Initiator: q.Get("initiator"), Since: lp.since,
		Limit: lp.limit, Offset: lp.offset,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

// executionDetail is the answer of GET /api/executions/{id}.
type executionDetail struct {
	Execution store.Execution `json:"execution"`
	Results   []store.Result  `json:"results"`
}

func (a *API) getExecution(w http.ResponseWriter, r *http.Request) error {
	id, err := execIDParam(r)
	if err != nil {
		return err
	}
	body, err := a.Store.ExecutionDetailJSON(r.Context(), id, encodeDetail)
	if err != nil {
		return err
	}
	// A known length spares both ends the chunked framing of a
	// multi-megabyte answer (a fleet-wide execution is ~4 MB).
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, err = w.Write(body)
	return err
}

func encodeDetail(e store.Execution, rows []store.Result) ([]byte, error) {
	return json.Marshal(executionDetail{Execution: e, Results: rows})
}

// streamExecution sends server-sent events: `execution` (counters) and
// `result` (a row whose status changed) on every projected change, then
// `done` once the execution is completed or expired.
func (a *API) streamExecution(w http.ResponseWriter, r *http.Request) error {
	id, err := execIDParam(r)
	if err != nil {
		return err
	}
	if _, err := a.Store.GetExecution(r.Context(), id); err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming unsupported by this connection")
	}
	changed, unsubscribe := a.Projector.Subscribe(id)
	defer unsubscribe()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	sent := map[string]string{} // result_id or pc → status already sent
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	for {
		done, err := a.sendProgress(w, r, id, sent)
		if err != nil {
			return nil // headers are gone; the client sees the stream end
		}
		flusher.Flush()
		if done {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-changed:
		case <-poll.C:
		}
	}
}

func (a *API) sendProgress(w http.ResponseWriter, r *http.Request, id string, sent map[string]string) (bool, error) {
	e, err := a.Store.GetExecution(r.Context(), id)
	if err != nil {
		return false, err
	}
	rows, err := a.Store.ExecutionResults(r.Context(), id)
	if err != nil {
		return false, err
	}
	for i := range rows {
		key := rows[i].ResultID
		if key == "" {
			key = "pc:" + rows[i].PCID
		}
		if sent[key] == rows[i].Status {
			continue
		}
		sent[key] = rows[i].Status
		if err := sendEvent(w, "result", rows[i]); err != nil {
			return false, err
		}
	}
	if err := sendEvent(w, "execution", e); err != nil {
		return false, err
	}
	done := e.Status == store.StatusCompleted || e.Status == store.StatusExpired
	if done {
		_, err = fmt.Fprint(w, "event: done\ndata: {}\n\n")
	}
	return done, err
}

func sendEvent(w http.ResponseWriter, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
	return err
}
