// Package apiclient calls the services' HTTP/JSON gateways (grpc-gateway) for
// the command-line apps: it sends protobuf messages as JSON over TLS, trusting
// only the CA it is given, with the caller's bearer token when there is one,
// and turns the gateway's status answers into *StatusError. It must never
// print, log or put into an error the token, and never send it over anything
// but https.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"healthexchange/services/platform/failover"
)

// Client calls one service's gateway as one caller. A service that runs
// as several instances is given as the list of their gateways: a call that
// cannot connect to one (nothing was sent) is made at the next, and the
// one that answered is tried first from then on.
type Client struct {
	bases    []string
	next     atomic.Int32
	token    string
	name     string
	hint     string
	maxBytes int64
	http     *http.Client
}

// settings are what the options change.
type settings struct {
	timeout    time.Duration
	maxBytes   int64
	name, hint string
}

// WithName names the service in errors ("the consent service"; default
// "the service").
func WithName(name string) Option {
	return func(s *settings) error {
		if name == "" {
			return errors.New("apiclient: empty service name")
		}
		s.name = name
		return nil
	}
}

// WithUnreachableHint adds what the user can do when the service does not
// answer (how to start it) to that error.
func WithUnreachableHint(hint string) Option {
	return func(s *settings) error {
		s.hint = hint
		return nil
	}
}

// UnreachableError is a call that reached no service: nothing answered at
// the address, or the connection broke before an answer.
type UnreachableError struct {
	// Service names the service, URL is its address.
	Service, URL string
	// Hint says what the user can do, if the client was given one.
	Hint string
	Err  error
}

func (e *UnreachableError) Error() string {
	msg := fmt.Sprintf("%s at %s does not answer: %v", e.Service, e.URL, e.Err)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Option changes how a Client calls; a bad one fails New.
type Option func(*settings) error

// WithTimeout bounds each call, answer included (default 30s).
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("apiclient: timeout %v must be positive", d)
		}
		s.timeout = d
		return nil
	}
}

// WithMaxResponseBytes bounds the size of an answer (default 16 MiB); a
// larger one is an error, never silently cut.
func WithMaxResponseBytes(n int64) Option {
	return func(s *settings) error {
		if n <= 0 {
			return fmt.Errorf("apiclient: response limit %d must be positive", n)
		}
		s.maxBytes = n
		return nil
	}
}

// New makes a client of the gateway at baseURL (https only; the gateways
// of a service's instances separated by commas), trusting the PEM
// certificates in caFile. An empty token sends no Authorization header,
// for public calls.
func New(baseURL, caFile, token string, opts ...Option) (*Client, error) {
	s := settings{timeout: 30 * time.Second, maxBytes: 16 << 20, name: "the service"}
	for _, o := range opts {
		if err := o(&s); err != nil {
			return nil, err
		}
	}
	var bases []string
	for _, b := range strings.Split(baseURL, ",") {
		b = strings.TrimSpace(b)
		u, err := url.Parse(b)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("apiclient: server %q must be an https:// URL, or several separated by commas", b)
		}
		bases = append(bases, strings.TrimRight(b, "/"))
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("the service's CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &Client{
		bases:    bases,
		token:    token,
		name:     s.name,
		hint:     s.hint,
		maxBytes: s.maxBytes,
		http: &http.Client{
			Timeout: s.timeout,
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13},
				ForceAttemptHTTP2: true,
			},
		},
	}, nil
}

// Call sends req (nil for none) with method to path (with its query, if
// any) and decodes the answer into resp (nil to ignore it). A status answer
// is a *StatusError.
func (c *Client) Call(ctx context.Context, method, path string, req, resp proto.Message) error {
	var raw []byte
	if req != nil {
		var err error
		if raw, err = protojson.Marshal(req); err != nil {
			return err
		}
	}
	hresp, base, err := c.do(ctx, c.http, method, path, "application/json", raw)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	raw, err = io.ReadAll(io.LimitReader(hresp.Body, c.maxBytes+1))
	if err != nil {
		return fmt.Errorf("%s at %s: %w", c.name, base, err)
	}
	if int64(len(raw)) > c.maxBytes {
		return fmt.Errorf("%s at %s: answer to %s %s is larger than %d bytes", c.name, base, method, path, c.maxBytes)
	}
	if hresp.StatusCode != http.StatusOK {
		return parseStatus(method, path, hresp.StatusCode, raw)
	}
	if resp == nil {
		return nil
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("%s at %s: answer to %s %s: %w", c.name, base, method, path, err)
	}
	return nil
}

// do sends the request (body nil for none) with hc to the gateway tried first,
// then, while none could be connected to and the call has time left, to
// the next ones in turn; it returns the answer and the gateway that gave
// it. A request that reached a gateway is never sent to another: it may
// have been carried out.
func (c *Client) do(ctx context.Context, hc *http.Client, method, path, accept string, body []byte) (*http.Response, string, error) {
	first := int(c.next.Load())
	var err error
	for i := range c.bases {
		n := (first + i) % len(c.bases)
		base := c.bases[n]
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		hreq, rerr := http.NewRequestWithContext(ctx, method, base+path, r)
		if rerr != nil {
			return nil, base, rerr
		}
		if c.token != "" {
			hreq.Header.Set("Authorization", "Bearer "+c.token)
		}
		if body != nil {
			hreq.Header.Set("Content-Type", "application/json")
		}
		hreq.Header.Set("Accept", accept)
		var hresp *http.Response
		if hresp, err = hc.Do(hreq); err == nil {
			c.next.Store(int32(n))
			return hresp, base, nil
		}
		// The url.Error repeats the method and URL; the cause is enough.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if ctx.Err() != nil {
			return nil, base, fmt.Errorf("%s at %s: %w", c.name, base, err)
		}
		if !failover.NotConnected(err) {
			break
		}
	}
	return nil, "", &UnreachableError{Service: c.name, URL: strings.Join(c.bases, ","), Hint: c.hint, Err: err}
}

// GetPage reads one page of a listing into resp: a GET of path with query q
// (may be nil) and page_size and page_token (each left out when zero).
func (c *Client) GetPage(ctx context.Context, path string, q url.Values, size int, token string, resp proto.Message) error {
	v := url.Values{}
	for k, vs := range q {
		v[k] = append([]string(nil), vs...)
	}
	if size != 0 {
		v.Set("page_size", strconv.Itoa(size))
	}
	if token != "" {
		v.Set("page_token", token)
	}
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return c.Call(ctx, http.MethodGet, path, nil, resp)
}

// App says how a command-line app reaches one service, for ForApp.
type App struct {
	// Service is the service's short name ("consent"); AddressFlag the
	// app's flag that sets BaseURL ("--server").
	Service, AddressFlag string
	// BaseURL, CAFile and Token are as for New.
	BaseURL, CAFile, Token string
	// Hint says how to start the service, for the errors that need it.
	Hint string
}

// ForApp is New for a command-line app: a missing address or CA is an
// error that names the flag to give, and a service that does not answer
// is named with a.Hint.
func ForApp(a App, opts ...Option) (*Client, error) {
	if a.BaseURL == "" {
		return nil, fmt.Errorf("no address of the %s service: pass %s (or set HX_%s_URL); %s",
			a.Service, a.AddressFlag, strings.ToUpper(a.Service), a.Hint)
	}
	if a.CAFile == "" {
		return nil, fmt.Errorf("no CA certificate for the %s service's TLS: pass --ca; %s", a.Service, a.Hint)
	}
	opts = append([]Option{WithName("the " + a.Service + " service"), WithUnreachableHint(a.Hint)}, opts...)
	return New(a.BaseURL, a.CAFile, a.Token, opts...)
}
