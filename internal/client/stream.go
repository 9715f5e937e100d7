package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Event is one server-sent event.
type Event struct {
	Name string // "message" when the server gave no event: line
	ID   string
	Data []byte
}

// ErrStopStream, returned by a stream handler, ends the stream without error.
var ErrStopStream = errors.New("stop stream")

// StreamExecution follows GET /api/executions/{id}/stream and calls fn for
// every event until the server closes the stream, ctx ends or fn returns
// an error (ErrStopStream ends it cleanly).
func (c *Client) StreamExecution(ctx context.Context, id string, fn func(Event) error) error {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/api/executions/" + seg(id) + "/stream",
		accept: "text/event-stream"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = ReadEvents(resp.Body, fn)
	if errors.Is(err, ErrStopStream) {
		return nil
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ReadEvents parses a text/event-stream body (the WHATWG format: "field:
// value" lines, a blank line dispatches, ":" starts a comment, several
// data lines join with "\n").
func ReadEvents(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	// A Result carries up to 1 MiB per stream; leave room for both and
	// the JSON escaping around them.
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var ev Event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			// The spec drops events without data, but "event: done" with no
			// payload is a perfectly clear signal; keep named events too.
			if data == nil && ev.Name == "" {
				ev = Event{}
				continue
			}
			ev.Data = []byte(strings.Join(data, "\n"))
			if ev.Name == "" {
				ev.Name = "message"
			}
			if err := fn(ev); err != nil {
				return err
			}
			ev, data = Event{}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.Name = value
		case "data":
			data = append(data, value)
		case "id":
			ev.ID = value
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read event stream: %w", err)
	}
	return nil
}
