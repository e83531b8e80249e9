//go:build integration

package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/objectstore"
)

// TestMain runs the tests against the MinIO server that minio.sh runs. If
// HX_MINIO_CONFIG names a configuration, that server is used as it is.
// Otherwise a server that is not running is started (built first if need
// be) and stopped again afterwards, so `make test` works from a fresh clone.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("HX_MINIO_CONFIG") != "" {
		return m.Run()
	}
	root, ok := devenv.RepoRoot()
	if !ok {
		fmt.Fprintln(os.Stderr, "objectstore integration: no test-network/ above the working directory")
		return 1
	}
	script := filepath.Join(root, "test-network", "minio", "minio.sh")
	status := exec.Command(script, "status")
	status.Stdout, status.Stderr = io.Discard, os.Stderr
	err := status.Run()
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 3 {
		// Running (or running but broken: the tests will say so).
		return m.Run()
	}
	if err := minioSh(script, "up"); err != nil {
		fmt.Fprintf(os.Stderr, "objectstore integration: minio.sh up: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := minioSh(script, "down"); err != nil {
		fmt.Fprintf(os.Stderr, "objectstore integration: minio.sh down: %v\n", err)
		return 1
	}
	return code
}

func minioSh(script, cmd string) error {
	c := exec.Command(script, cmd)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return c.Run()
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T) *minio.Client {
	t.Helper()
	cfg, err := objectstore.ConfigFromFile(devenv.MinIOConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	client, err := objectstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// newBucket makes a bucket of its own for one test and removes it, with
// whatever the test left in it, afterwards.
func newBucket(t *testing.T, client *minio.Client) string {
	t.Helper()
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatal(err)
	}
	name := "hx-test-" + hex.EncodeToString(suffix)
	ctx := testContext(t)
	if err := objectstore.EnsureBucket(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for obj := range client.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err == nil {
				_ = client.RemoveObject(ctx, name, obj.Key, minio.RemoveObjectOptions{})
			}
		}
		if err := client.RemoveBucket(ctx, name); err != nil {
			t.Errorf("removing bucket %s: %v", name, err)
		}
	})
	return name
}

func put(t *testing.T, ctx context.Context, client *minio.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := client.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/fhir+json"})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func get(ctx context.Context, client *minio.Client, bucket, key string) ([]byte, error) {
	obj, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, objectstore.Classify(err)
	}
	defer obj.Close()
	body, err := io.ReadAll(obj)
	return body, objectstore.Classify(err)
}

func list(t *testing.T, ctx context.Context, client *minio.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys
}

func TestEnsureBucketIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	bucket := newBucket(t, client)
	if err := objectstore.EnsureBucket(ctx, client, bucket); err != nil {
		t.Fatalf("EnsureBucket of an existing bucket: %v", err)
	}
	exists, err := client.BucketExists(ctx, bucket)
	if err != nil || !exists {
		t.Fatalf("BucketExists(%s) = %v, %v; want true", bucket, exists, err)
	}
}

func TestPutGetListDelete(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	bucket := newBucket(t, client)

	labs := []byte(`{"resourceType":"Observation","code":"glucose","value":5.4}`)
	notes := []byte(`{"resourceType":"DocumentReference","description":"discharge"}`)
	put(t, ctx, client, bucket, "patients/p1/labs.json", labs)
	put(t, ctx, client, bucket, "patients/p1/notes.json", notes)
	put(t, ctx, client, bucket, "patients/p2/labs.json", labs)

	got, err := get(ctx, client, bucket, "patients/p1/labs.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, labs) {
		t.Fatalf("get returned %q, want %q", got, labs)
	}
	info, err := client.StatObject(ctx, bucket, "patients/p1/notes.json", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(notes)) || info.ContentType != "application/fhir+json" {
		t.Fatalf("stat: size %d, type %q; want %d, application/fhir+json", info.Size, info.ContentType, len(notes))
	}

	want := []string{"patients/p1/labs.json", "patients/p1/notes.json"}
	if diff := cmp.Diff(want, list(t, ctx, client, bucket, "patients/p1/")); diff != "" {
		t.Fatalf("list patients/p1/ (-want +got):\n%s", diff)
	}

	if err := client.RemoveObject(ctx, bucket, "patients/p1/labs.json", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(ctx, client, bucket, "patients/p1/labs.json"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("get after delete = %v, want ErrNotFound", err)
	}
	want = []string{"patients/p1/notes.json"}
	if diff := cmp.Diff(want, list(t, ctx, client, bucket, "patients/p1/")); diff != "" {
		t.Fatalf("list patients/p1/ after delete (-want +got):\n%s", diff)
	}
	if got, err := get(ctx, client, bucket, "patients/p2/labs.json"); err != nil || !bytes.Equal(got, labs) {
		t.Fatalf("another patient's object after the delete: %q, %v", got, err)
	}
}

func TestMissingIsNotFound(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	bucket := newBucket(t, client)
	tests := map[string]struct{ bucket, key, code string }{
		"missing object":             {bucket: bucket, key: "patients/nobody/labs.json", code: minio.NoSuchKey},
		"object in a missing bucket": {bucket: "hx-test-no-such-bucket", key: "x", code: minio.NoSuchBucket},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			body, err := get(ctx, client, tc.bucket, tc.key)
			if !errors.Is(err, objectstore.ErrNotFound) {
				t.Fatalf("get %s/%s = %q, %v; want ErrNotFound", tc.bucket, tc.key, body, err)
			}
			var resp minio.ErrorResponse
			if !errors.As(err, &resp) || resp.Code != tc.code {
				t.Fatalf("get %s/%s: the store's error %v is not reachable as code %s", tc.bucket, tc.key, err, tc.code)
			}
		})
	}
}

func TestWrongSecretIsDeniedNotNotFound(t *testing.T) {
	ctx := testContext(t)
	cfg, err := objectstore.ConfigFromFile(devenv.MinIOConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg.SecretKey += "-wrong"
	client, err := objectstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(ctx, client, "hx-test-any", "x")
	var resp minio.ErrorResponse
	if errors.Is(err, objectstore.ErrNotFound) || !errors.As(err, &resp) || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("get with a wrong secret = %v, want a 403 refusal that is not ErrNotFound", err)
	}
}

// TestStreams puts an object larger than a part in parts and reads it back
// as a stream; a missing object and one over the limit fail before any byte.
func TestStreams(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	b := objectstore.NewBucket(client, newBucket(t, client), 30*time.Second)

	const size = 40<<20 + 123 // three parts of 16 MiB
	src := io.LimitReader(rand.Reader, size)
	h := sha256Of(t, nil)
	if err := b.PutStream(ctx, "datasets/d1/rows.csv", io.TeeReader(src, h), size); err != nil {
		t.Fatalf("PutStream: %v", err)
	}
	want := hex.EncodeToString(h.Sum(nil))

	r, err := b.GetStream(ctx, "datasets/d1/rows.csv", size)
	if err != nil {
		t.Fatalf("GetStream: %v", err)
	}
	got := sha256Of(t, r)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if hex.EncodeToString(got.Sum(nil)) != want {
		t.Fatal("the stream read back is not the one put")
	}

	if _, err := b.GetStream(ctx, "datasets/d1/rows.csv", size-1); !errors.Is(err, objectstore.ErrTooLarge) {
		t.Fatalf("GetStream over the limit = %v, want ErrTooLarge", err)
	}
	if _, err := b.GetStream(ctx, "datasets/none.csv", size); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("GetStream of a missing object = %v, want ErrNotFound", err)
	}
	// A short stream is refused and leaves nothing behind.
	if err := b.PutStream(ctx, "datasets/d2/rows.csv", bytes.NewReader(make([]byte, 10)), 20); err == nil {
		t.Fatal("PutStream of fewer bytes than announced succeeded")
	}
	if _, err := b.Get(ctx, "datasets/d2/rows.csv", 100); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("after a short PutStream, Get = %v, want ErrNotFound", err)
	}
}

// sha256Of returns a hash fed with r's bytes (none when r is nil).
func sha256Of(t *testing.T, r io.Reader) hash.Hash {
	t.Helper()
	h := sha256.New()
	if r != nil {
		if _, err := io.Copy(h, r); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	return h
}

// TestFailoverToTheNextEndpoint: a store given as two endpoints, the first
// of which nothing listens on (a node that is down). Every call is made at
// the second, and from then on the second is asked first; a store that
// cannot be reached at all fails the call.
func TestFailoverToTheNextEndpoint(t *testing.T) {
	ctx := testContext(t)
	cfg, err := objectstore.ConfigFromFile(devenv.MinIOConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	down := closedPort(t)
	cfg.Failover = []string{cfg.Endpoint}
	cfg.Endpoint = down
	name := newBucket(t, dial(t))
	b, err := objectstore.OpenBucket(ctx, cfg, name, 10*time.Second)
	if err != nil {
		t.Fatalf("open with the first endpoint down: %v", err)
	}
	if err := b.Put(ctx, "a/one", []byte("one")); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got, err := b.Get(ctx, "a/one", 10); err != nil || string(got) != "one" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if keys, err := b.List(ctx, "a/"); err != nil || len(keys) != 1 {
		t.Fatalf("list = %v, %v", keys, err)
	}
	r, err := b.GetStream(ctx, "a/one", 10)
	if err != nil {
		t.Fatalf("get stream: %v", err)
	}
	r.Close()
	// A streamed upload goes to the next endpoint too: from a reader that
	// can seek back, and from one that cannot when nothing was read yet.
	// Each starts at the dead endpoint again.
	for name, body := range map[string]io.Reader{
		"seekable":   strings.NewReader("streamed once"),
		"unseekable": io.MultiReader(strings.NewReader("streamed once")),
	} {
		objectstore.AskFirstEndpointFirst(b)
		if err := b.PutStream(ctx, "s/"+name, body, int64(len("streamed once"))); err != nil {
			t.Fatalf("put stream (%s) with the first endpoint down: %v", name, err)
		}
		if got, err := b.Get(ctx, "s/"+name, 100); err != nil || string(got) != "streamed once" {
			t.Fatalf("get of the %s stream = %q, %v", name, got, err)
		}
	}
	if _, err := b.Get(ctx, "a/missing", 10); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("a missing object through the failover: %v, want not found", err)
	}
	if err := b.Delete(ctx, "a/one"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	// Fresh bucket handles over two dead endpoints: nothing answers.
	dead := cfg
	dead.Endpoint, dead.Failover = down, []string{closedPort(t)}
	start := time.Now()
	if _, err := objectstore.OpenBucket(ctx, dead, name, 5*time.Second); err == nil {
		t.Fatal("a bucket opened with every endpoint down")
	}
	t.Logf("every endpoint down: refused after %v", time.Since(start).Round(time.Millisecond))
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
