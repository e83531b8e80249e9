package apiclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxEventBytes bounds one Server-Sent Event's data.
const maxEventBytes = 1 << 20

// Event is one Server-Sent Event.
type Event struct {
	ID, Name string
	Data     []byte
}

// Events follows a Server-Sent Events stream at path (GET), calling fn with
// each event until the server ends the stream, ctx ends (nil error), or fn
// fails. The stream has no overall timeout; a refused request is a
// *StatusError as for Call.
func (c *Client) Events(ctx context.Context, path string, fn func(Event) error) error {
	stream := *c.http
	stream.Timeout = 0 // a stream lasts as long as the caller wants it
	resp, base, err := c.do(ctx, &stream, http.MethodGet, path, "text/event-stream", nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return parseStatus(http.MethodGet, path, resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes+64)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Data != nil || ev.Name != "" {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = Event{}
		case strings.HasPrefix(line, ":"): // a comment: the server is alive
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Name = value
			case "data":
				if len(ev.Data)+len(value) > maxEventBytes {
					return fmt.Errorf("%s at %s: an event is larger than %d bytes", c.name, base, maxEventBytes)
				}
				if ev.Data != nil {
					ev.Data = append(ev.Data, '\n')
				}
				ev.Data = append(ev.Data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%s at %s: the event stream: %w", c.name, base, err)
	}
	return nil
}
