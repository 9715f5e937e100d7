// Package api serves the JSON API under /api/* (SPEC §4.5): one file per
// resource, shared helpers here. Handlers validate at the boundary, map
// errors to statuses and never answer a client mistake with a 500.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-dev/kanade/internal/audit"
	"github.com/kanade-dev/kanade/internal/fanout"
	"github.com/kanade-dev/kanade/internal/manifest"
	"github.com/kanade-dev/kanade/internal/projector"
	"github.com/kanade-dev/kanade/internal/store"
)

// MaxBody caps every request body (SPEC §4.5).
const MaxBody = 1 << 20

// Deps are the parts the API talks to.
type Deps struct {
	NC        *nats.Conn
	JS        jetstream.JetStream
	Store     *store.Store
	Projector *projector.Projector
	Fanout    *fanout.Fanout
	Audit     *audit.Publisher
	Auth      Authenticator
	Schedules ScheduleService // nil until the scheduler is wired
	Log       *slog.Logger
	Version   string
	Now       func() time.Time
}

// API is the /api handler set.
type API struct {
	Deps
	mux *http.ServeMux
}

// New builds the handler for /api/* and /health.
func New(d Deps) *API {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	a := &API{Deps: d, mux: http.NewServeMux()}
	a.routes()
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	a.mux.ServeHTTP(w, r)
}

// handle registers a route with the role it needs.
func (a *API) handle(pattern string, role Role, h func(http.ResponseWriter, *http.Request) error) {
	a.mux.Handle(pattern, a.authorize(role, errorHandler(a.Log, h)))
}

func (a *API) routes() {
	a.mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.handle("GET /api/version", RoleViewer, a.version)
	a.handle("GET /api/health", RoleViewer, a.health)
	a.handle("GET /api/whoami", RoleViewer, a.whoami)
	a.agentRoutes()
	a.groupRoutes()
	a.jobRoutes()
	a.execRoutes()
	a.executionRoutes()
	a.resultRoutes()
	a.auditRoutes()
	a.scheduleRoutes()
	a.configRoutes()
	a.inventoryRoutes()
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path, nil)
	})
}

func (a *API) version(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"version": a.Version})
}

// httpError is an error with a status and optional field errors.
type httpError struct {
	status int
	msg    string
	fields manifest.Errors
}

func (e *httpError) Error() string { return e.msg }

func errStatus(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return errStatus(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) error {
	return errStatus(http.StatusNotFound, format, args...)
}

// invalid wraps validation errors: 400 with the field list.
func invalid(msg string, err error) error {
	var fe manifest.Errors
	if errors.As(err, &fe) {
		return &httpError{status: http.StatusBadRequest, msg: msg, fields: fe}
	}
	return &httpError{status: http.StatusBadRequest, msg: msg + ": " + err.Error()}
}

// errorHandler maps a handler's error to a JSON answer. Unknown errors are
// 500 and logged; broker trouble is 503.
func errorHandler(log *slog.Logger, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &he):
			writeError(w, he.status, he.msg, he.fields)
		case errors.As(err, &mbe):
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit), nil)
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, err.Error(), nil)
		case isUnavailable(err):
			writeError(w, http.StatusServiceUnavailable, "broker unavailable: "+err.Error(), nil)
		case errors.Is(err, context.Canceled):
			// The client went away; nobody is listening for an answer.
		default:
			log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error", nil)
		}
	})
}

func isUnavailable(err error) bool {
	return errors.Is(err, fanout.ErrUnavailable) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, nats.ErrNoServers)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, fields manifest.Errors) {
	body := map[string]any{"error": msg}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	_ = writeJSON(w, status, body)
}

// readBody reads the whole (capped) body.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// decodeJSON decodes a small JSON body strictly.
func decodeJSON(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	return nil
}

// paging reads limit/offset with defaults and bounds.
func paging(r *http.Request) (limit, offset int, err error) {
	limit, err = intParam(r, "limit", 50, 1, 1000)
	if err != nil {
		return 0, 0, err
	}
	offset, err = intParam(r, "offset", 0, 0, 1<<31-1)
	return limit, offset, err
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, badRequest("%s: want an integer between %d and %d, got %q", name, lo, hi, s)
	}
	return v, nil
}

// listParams are the paging and time filter every history list shares.
type listParams struct {
	limit, offset int
	since         time.Time
}

func (a *API) listParams(r *http.Request) (listParams, error) {
	limit, offset, err := paging(r)
	if err != nil {
		return listParams{}, err
	}
	since, err := sinceParam(r, a.Now())
	return listParams{limit: limit, offset: offset, since: since}, err
}

// sinceParam reads an RFC 3339 time or a duration ago ("24h").
func sinceParam(r *http.Request, now time.Time) (time.Time, error) {
	s := r.URL.Query().Get("since")
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var d manifest.Duration
	if err := d.UnmarshalJSON([]byte(strconv.Quote(s))); err == nil && d > 0 {
		return now.Add(-d.Std()), nil
	}
	return time.Time{}, badRequest("since: want RFC 3339 or a duration like 24h, got %q", s)
}
