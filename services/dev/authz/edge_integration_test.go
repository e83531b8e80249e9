//go:build integration

package authz_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
)

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// zeros is an endless body, produced as it is read: the attacker's
// gigabyte costs the test nothing.
type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

// Oversized and slow requests against each service's gateway: refused
// early, the service's memory bounded (its peak RSS measured), and a client
// that dribbles its headers cut off.
func TestOversizedAndSlowRequests(t *testing.T) {
	env := itest.Env(t)
	consent := itest.NewConsentd(t, consentdBin, "-read-header-timeout", "2s")
	daemons := map[string]struct {
		proc     *itest.Process
		http     string
		path     string // a route that takes a body and a token
		audience string
	}{
		"consent": {consent.Process, consent.HTTPAddr, "/v1/consents:grant", "consent"},
	}
	for _, svc := range []string{"records", "ingest", "research"} {
		bin, cleanup, err := itest.Build("healthexchange/services/cmd/" + svc + "d")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cleanup)
		grpcAddr, httpAddr := itest.FreeAddr(t), itest.FreeAddr(t)
		args := []string{"-env", env.Path, "-store-config", store.ConfigPath(), "-state", t.TempDir(),
			"-grpc", grpcAddr, "-http", httpAddr, "-read-header-timeout", "2s"}
		if svc != "research" {
			args = append(args, "-consent", consent.GRPCAddr)
		}
		path := map[string]string{"records": "/v1/patients/pat-x/records", "ingest": "/v1/patients/pat-x/readings",
			"research": "/v1/datasets"}[svc]
		daemons[svc] = struct {
			proc     *itest.Process
			http     string
			path     string
			audience string
		}{itest.StartDaemon(t, bin, args, grpcAddr), httpAddr, path, svc}
	}
	pem, err := os.ReadFile(env.ServicesTLS.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	token := itest.Token(t, "dr-big", auth.RoleClinician, ledgerapi.ProvidersMSP)

	const budget = 48 << 20 // what one bad request may add to a service's peak memory
	for name, d := range daemons {
		t.Run(name, func(t *testing.T) {
			post := func(t *testing.T, tok string, size int64) (int, error) {
				req, err := http.NewRequest("POST", "https://"+d.http+d.path, &zeros{left: size})
				if err != nil {
					t.Fatal(err)
				}
				req.ContentLength = size
				req.Header.Set("Content-Type", "application/json")
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			before := peakRSS(t, d.proc.Pid())
			t.Run("256 MiB without a token", func(t *testing.T) {
				start := time.Now()
				code, err := post(t, "", 256<<20)
				t.Logf("answer: %d, %v", code, err)
				if err == nil && code != http.StatusUnauthorized {
					t.Fatalf("answered %d, want 401", code)
				}
				if took := time.Since(start); took > 20*time.Second {
					t.Fatalf("took %v: the body was read", took)
				}
			})
			t.Run("64 MiB with a token", func(t *testing.T) {
				code, err := post(t, token, 64<<20)
				t.Logf("answer: %d, %v", code, err)
				if err == nil && code == http.StatusOK {
					t.Fatal("a 64 MiB body was taken")
				}
			})
			after := peakRSS(t, d.proc.Pid())
			t.Logf("%s: peak RSS %d MiB before, %d MiB after", name, before>>20, after>>20)
			if grew := after - before; grew > budget {
				t.Fatalf("peak RSS grew by %d MiB, more than %d MiB", grew>>20, budget>>20)
			}
			t.Run("headers dribbled: the connection is cut", func(t *testing.T) {
				conn, err := tls.Dial("tcp", d.http, tlsCfg)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				fmt.Fprintf(conn, "GET /openapi.json HTTP/1.1\r\nHost: %s\r\n", d.http) // and never the end of the headers
				conn.SetReadDeadline(time.Now().Add(15 * time.Second))
				start := time.Now()
				_, err = bufio.NewReader(conn).ReadString('\n')
				if err == nil {
					t.Fatal("the server answered an unfinished request")
				}
				var ne net.Error
				if took := time.Since(start); took > 10*time.Second || (asNetError(err, &ne) && ne.Timeout()) {
					t.Fatalf("the connection stayed open %v (%v), want it cut after the 2 s header timeout", took, err)
				}
			})
		})
	}

	t.Run("a 5 MiB gRPC message is refused", func(t *testing.T) {
		rec := recordsv1.NewRecordServiceClient(itest.Dial(t, daemons["records"].proc.GRPCAddr(), "app-clinician"))
		big := make([]byte, 5<<20)
		_, err := rec.VerifyRecord(itest.Context(t), &recordsv1.VerifyRecordRequest{Resource: big})
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("got %v, want ResourceExhausted", err)
		}
	})
}

func asNetError(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}
