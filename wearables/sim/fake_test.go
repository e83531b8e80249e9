package sim

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/platform/mtls"
	"healthexchange/services/platform/mtls/mtlstest"
	"healthexchange/wearables/device"
	"healthexchange/wearables/mhealth"
)

// fault is what the fake ingest service does wrong on one batch.
type fault int

const (
	noFault         fault = iota
	dropBeforeStore       // end the stream before storing the batch
	dropBeforeAck         // store the batch, end the stream before answering
	dropAfterAck          // store and answer, then end the stream
	killConn              // store the batch, then close every TCP connection
	misanswer             // store the batch, answer for another seq
)

// fakeIngest is an IngestService that keeps batches in memory by device and
// seq, as the real one promises to: signatures checked, one answer per
// batch in order, DUPLICATE for a seq it has, implausible readings listed.
// It records anything a correct client could not have caused in problems.
type fakeIngest struct {
	ingestv1.UnimplementedIngestServiceServer
	now    func() time.Time
	keys   map[string]ed25519.PublicKey
	reject map[uint64]bool // seqs answered REJECTED
	faults map[int]fault   // by the number of batches received so far, from 1
	stall  bool            // read batches, never answer
	hold   chan struct{}   // if set, nothing is stored or answered until it is closed
	conns  *trackingListener

	mu       sync.Mutex
	received int
	receipts map[string]map[uint64]int         // device, seq: how often it arrived
	stored   map[string]map[uint64]storedBatch // device, seq
	arrived  map[string]map[uint64]time.Time   // device, seq: first arrival, on now
	problems []string
}

type storedBatch struct {
	payload  []byte
	batch    mhealth.Batch
	rejected int
}

func newFake(devices ...*device.Device) *fakeIngest {
	f := &fakeIngest{
		now:      time.Now,
		keys:     map[string]ed25519.PublicKey{},
		reject:   map[uint64]bool{},
		faults:   map[int]fault{},
		receipts: map[string]map[uint64]int{},
		stored:   map[string]map[uint64]storedBatch{},
		arrived:  map[string]map[uint64]time.Time{},
	}
	for _, d := range devices {
		pub, err := base64.StdEncoding.DecodeString(d.PublicKey())
		if err != nil {
			panic(err)
		}
		f.keys[d.ID()] = pub
	}
	return f
}

func (f *fakeIngest) Upload(stream ingestv1.IngestService_UploadServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.received++
		flt := f.faults[f.received]
		f.mu.Unlock()
		if f.stall {
			continue
		}
		if f.hold != nil {
			select {
			case <-f.hold:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
		if flt == dropBeforeStore {
			return status.Error(codes.Unavailable, "fault: stream dropped before storing")
		}
		resp := f.store(req)
		switch flt {
		case dropBeforeAck:
			return status.Error(codes.Unavailable, "fault: stream dropped before answering")
		case killConn:
			f.conns.closeAll()
			return status.Error(codes.Unavailable, "fault: connection killed")
		case misanswer:
			resp.Seq += 1000
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if flt == dropAfterAck {
			return status.Error(codes.Unavailable, "fault: stream dropped after answering")
		}
	}
}

func (f *fakeIngest) store(req *ingestv1.UploadRequest) *ingestv1.UploadResponse {
	rejected := func(seq uint64, msg string) *ingestv1.UploadResponse {
		return &ingestv1.UploadResponse{DeviceId: req.GetDeviceId(), Seq: seq, Status: ingestv1.BatchStatus_BATCH_STATUS_REJECTED, Error: msg}
	}
	pub, ok := f.keys[req.GetDeviceId()]
	if !ok {
		return rejected(0, "unknown device")
	}
	b, err := mhealth.Verify(pub, req.GetPayload(), req.GetSignature())
	if err != nil {
		f.problem("device %s: %v", req.GetDeviceId(), err)
		return rejected(0, err.Error())
	}
	if b.DeviceID != req.GetDeviceId() {
		f.problem("batch of %s sent as %s", b.DeviceID, req.GetDeviceId())
		return rejected(b.Seq, "device id mismatch")
	}
	sum := sha256.Sum256(req.GetPayload())
	resp := &ingestv1.UploadResponse{DeviceId: b.DeviceID, Seq: b.Seq, BatchSha256: hex.EncodeToString(sum[:])}
	now := f.now()

	f.mu.Lock()
	defer f.mu.Unlock()
	dev := b.DeviceID
	if f.receipts[dev] == nil {
		f.receipts[dev], f.stored[dev], f.arrived[dev] = map[uint64]int{}, map[uint64]storedBatch{}, map[uint64]time.Time{}
	}
	f.receipts[dev][b.Seq]++
	if _, ok := f.arrived[dev][b.Seq]; !ok {
		f.arrived[dev][b.Seq] = now
	}
	if f.reject[b.Seq] {
		resp.Status, resp.Error = ingestv1.BatchStatus_BATCH_STATUS_REJECTED, "fault: rejected"
		return resp
	}
	if prev, ok := f.stored[dev][b.Seq]; ok {
		if !bytes.Equal(prev.payload, req.GetPayload()) {
			f.problems = append(f.problems, fmt.Sprintf("device %s seq %d sent again with other content", dev, b.Seq))
		}
		resp.Status = ingestv1.BatchStatus_BATCH_STATUS_DUPLICATE
		return resp
	}
	for seq := range f.stored[dev] {
		if seq > b.Seq {
			f.problems = append(f.problems, fmt.Sprintf("device %s seq %d stored after seq %d", dev, b.Seq, seq))
			break
		}
	}
	for i, r := range b.Readings {
		if err := r.Validate(now, mhealth.DefaultMaxSkew, mhealth.DefaultMaxAge); err != nil {
			resp.Rejected = append(resp.Rejected, &ingestv1.RejectedReading{Index: int32(i), Error: err.Error()})
		}
	}
	f.stored[dev][b.Seq] = storedBatch{payload: slices.Clone(req.GetPayload()), batch: b, rejected: len(resp.Rejected)}
	resp.Status = ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED
	return resp
}

func (f *fakeIngest) problem(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, a...))
}

// seqs are the device's stored sequence numbers, ascending.
func (f *fakeIngest) seqs(dev string) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.stored[dev]))
}

// readings are the device's stored readings, in seq order.
func (f *fakeIngest) readings(dev string) []mhealth.Reading {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []mhealth.Reading
	for _, seq := range slices.Sorted(maps.Keys(f.stored[dev])) {
		out = append(out, f.stored[dev][seq].batch.Readings...)
	}
	return out
}

func (f *fakeIngest) receivedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received
}

func (f *fakeIngest) checkNoProblems(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Error(p)
	}
}

// trackingListener remembers its connections, so a test can kill them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// serve starts a gRPC server with mutual TLS on 127.0.0.1 with the fake
// registered (none when f is nil), and returns a client of it presenting a
// "cli" certificate, as a device does.
func serve(t *testing.T, f *fakeIngest) ingestv1.IngestServiceClient {
	t.Helper()
	addr, cliTLS := serveAt(t, f)
	return dial(t, addr, cliTLS)
}

// serveAt is serve's server: its address and the client's TLS configuration.
func serveAt(t *testing.T, f *fakeIngest) (string, *tls.Config) {
	t.Helper()
	ca := mtlstest.NewCA(t, "test-services")
	srvCert, srvKey := ca.Issue(t, "ingest", "127.0.0.1")
	cliCert, cliKey := ca.Issue(t, "cli")
	srvTLS, err := mtls.ServerConfig(srvCert, srvKey, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	cliTLS, err := mtls.ClientConfig(ca.CertFile, cliCert, cliKey, "")
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := &trackingListener{Listener: lis}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	if f != nil {
		f.conns = tl
		ingestv1.RegisterIngestServiceServer(srv, f)
	}
	go srv.Serve(tl)
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), cliTLS
}

func dial(t *testing.T, addr string, cliTLS *tls.Config) ingestv1.IngestServiceClient {
	t.Helper()
	conn, err := Dial(addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ingestv1.NewIngestServiceClient(conn)
}

// newDevices creates n devices with key files in a temporary folder.
func newDevices(t *testing.T, n int) []*device.Device {
	t.Helper()
	dir := t.TempDir()
	out := make([]*device.Device, n)
	for i := range out {
		id := fmt.Sprintf("watch-%d", i+1)
		d, err := device.Create(filepath.Join(dir, id+".json"), id, fmt.Sprintf("pat-%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = d
	}
	return out
}

func asDevices(ds []*device.Device) []Device {
	out := make([]Device, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}

// fixedClock is a clock whose now never moves; After is real time.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// scaledClock runs factor times faster than the wall clock, from base.
type scaledClock struct {
	base, started time.Time
	factor        int64
}

func newScaledClock(factor int64) *scaledClock {
	now := time.Now()
	return &scaledClock{base: now.Round(0), started: now, factor: factor}
}

func (c *scaledClock) Now() time.Time {
	return c.base.Add(time.Since(c.started) * time.Duration(c.factor))
}

func (c *scaledClock) After(d time.Duration) <-chan time.Time {
	return time.After(d / time.Duration(c.factor))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
