package patientcli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// gateway calls the consent service's HTTP/JSON gateway as the patient.
type gateway struct {
	base  string
	token string
	http  *http.Client
}

func newGateway(base, caFile, token string) (*gateway, error) {
	if token == "" {
		return nil, fmt.Errorf("no bearer token: pass --token or set HX_TOKEN")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("the service's CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &gateway{base: base, token: token, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}},
	}}, nil
}

// statusBody is how the gateway reports a failed call.
type statusBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// call sends req (nil for none) and decodes the answer into resp.
func (g *gateway) call(ctx context.Context, method, path string, req, resp proto.Message) error {
	var body io.Reader
	if req != nil {
		raw, err := protojson.Marshal(req)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return err
	}
	hreq.Header.Set("Authorization", "Bearer "+g.token)
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := g.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("the consent service at %s: %w", g.base, err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, 16<<20))
	if err != nil {
		return err
	}
	if hresp.StatusCode != http.StatusOK {
		var s statusBody
		if json.Unmarshal(raw, &s) == nil && s.Message != "" {
			return fmt.Errorf("%s (HTTP %d)", s.Message, hresp.StatusCode)
		}
		return fmt.Errorf("HTTP %d from %s", hresp.StatusCode, path)
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(raw, resp)
}
