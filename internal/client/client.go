// Package client is a small typed HTTP client for kanade's JSON API. It is
// what the operator CLI uses, and what end-to-end tests can drive the real
// server with. Every answer keeps the exact bytes the server sent next to
// the decoded value, so printers can show fields this client does not know.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kanade-dev/kanade/internal/manifest"
)

// FieldError locates one validation problem; it is the API's wire shape.
type FieldError = manifest.FieldError

// APIError is a non-2xx answer, decoded from {"error": ..., "fields": [...]}.
type APIError struct {
	Status  int
	Message string
	Fields  []FieldError
}

// Error prints the message and then every field problem on its own line,
// because a manifest with five mistakes should show five lines.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		b.WriteString(strings.ToLower(http.StatusText(e.Status)))
	}
	for _, f := range e.Fields {
		b.WriteString("\n  ")
		if f.Path != "" {
			b.WriteString(f.Path + ": ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Reply pairs a decoded answer with the raw body it came from.
type Reply[T any] struct {
	Value T
	Raw   json.RawMessage
}

// Client talks to one kanade server.
type Client struct {
	server string
	token  string
	http   *http.Client
}

// New returns a client for server (e.g. "http://127.0.0.1:8080"); token
// may be empty when the server runs in open mode.
func New(server, token string) *Client {
	return &Client{
		server: strings.TrimRight(server, "/"),
		token:  token,
		// No overall timeout: /api/run and the SSE stream legitimately
		// take long. Callers bound requests with their context instead;
		// only connecting is bounded here so a dead host fails fast.
		http: &http.Client{Transport: &http.Transport{
			Proxy:       http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		}},
	}
}

// Server is the base URL this client talks to.
func (c *Client) Server() string { return c.server }

// request is one API call before it is sent.
type request struct {
	method      string
	path        string // already escaped
	query       url.Values
	body        io.Reader
	contentType string
	accept      string
}

// send performs r and returns the response for any 2xx status; anything
// else is turned into an *APIError.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.server + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// transportError names the server, since "connection refused" alone does
// not tell an operator which URL they are pointed at.
func (c *Client) transportError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return fmt.Errorf("cannot reach kanade server at %s: %v (is it running? set --server or KANADE_SERVER)", c.server, oe.Err)
	}
	return fmt.Errorf("request to kanade server at %s failed: %w", c.server, err)
}

// decodeError reads an error answer; a body that is not the API's JSON
// (a proxy's HTML page, say) is summarised instead of dumped.
func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var wire struct {
		Error  string       `json:"error"`
		Fields []FieldError `json:"fields"`
	}
	ae := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(body, &wire) == nil && (wire.Error != "" || len(wire.Fields) > 0) {
		ae.Message, ae.Fields = wire.Error, wire.Fields
		return ae
	}
	ae.Message = fmt.Sprintf("%s (HTTP %d)", strings.ToLower(http.StatusText(resp.StatusCode)), resp.StatusCode)
	if s := firstLine(string(body)); s != "" {
		ae.Message += ": " + s
	}
	return ae
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Raw performs a call and returns the body as is.
func (c *Client) raw(ctx context.Context, r request) ([]byte, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer from %s: %w", r.path, err)
	}
	return b, nil
}

// call performs r and decodes the JSON answer into a Reply.
func call[T any](ctx context.Context, c *Client, r request) (Reply[T], error) {
	var rep Reply[T]
	b, err := c.raw(ctx, r)
	if err != nil {
		return rep, err
	}
	rep.Raw = b
	if len(bytes.TrimSpace(b)) == 0 {
		return rep, nil
	}
	if err := json.Unmarshal(b, &rep.Value); err != nil {
		return rep, fmt.Errorf("decode answer from %s: %w", r.path, err)
	}
	return rep, nil
}

// jsonBody marshals v for a request body.
func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return bytes.NewReader(b), nil
}

// seg escapes one path segment (ids are validated server side, but an
// operator's typo must not turn into a different route).
func seg(s string) string { return url.PathEscape(s) }
