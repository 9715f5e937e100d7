package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// Role orders what a caller may do (SPEC §4.6).
type Role int

const (
	RoleViewer Role = iota + 1
	RoleOperator
	RoleAdmin
)

// Principal is who is calling.
type Principal struct {
	Name string
	Role Role
}

// Authenticator turns a request's credentials into a Principal. Accounts
// and API tokens plug in here later without touching the handlers.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

var errNoCredentials = errors.New("missing or invalid credentials")

// OpenAuth lets everyone in as admin: only for `kanade dev` or --auth none.
type OpenAuth struct{}

func (OpenAuth) Authenticate(*http.Request) (Principal, error) {
	return Principal{Name: "anonymous", Role: RoleAdmin}, nil
}

// TokenAuth accepts one static bearer token, with the admin role.
type TokenAuth struct{ Token string }

func (t TokenAuth) Authenticate(r *http.Request) (Principal, error) {
	got := bearer(r)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(t.Token)) != 1 {
		return Principal{}, errNoCredentials
	}
	return Principal{Name: "token", Role: RoleAdmin}, nil
}

// bearer reads the Authorization header; EventSource cannot send headers,
// so the stream route also accepts ?access_token=.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	if strings.HasSuffix(r.URL.Path, "/stream") {
		return r.URL.Query().Get("access_token")
	}
	return ""
}

type principalKey struct{}

// actor is the name recorded in audit events and executions.
func actor(r *http.Request) string {
	if p, ok := r.Context().Value(principalKey{}).(Principal); ok {
		return p.Name
	}
	return "unknown"
}

func (a *API) authorize(need Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Auth.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kanade"`)
			writeError(w, http.StatusUnauthorized, err.Error(), nil)
			return
		}
		if p.Role < need {
			writeError(w, http.StatusForbidden, "role too low for this action", nil)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

var roleNames = map[Role]string{RoleViewer: "viewer", RoleOperator: "operator", RoleAdmin: "admin"}

// whoami tells the dashboard who is calling, so it can hide what the
// server would refuse anyway.
func (a *API) whoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return writeJSON(w, http.StatusOK, map[string]string{"name": p.Name, "role": roleNames[p.Role]})
}
