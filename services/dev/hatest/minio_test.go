//go:build ha

package hatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"healthexchange/services/platform/objectstore"
)

// objectLoad puts objects into one bucket, one after another, and keeps
// the digest of each acknowledged one.
type objectLoad struct {
	name     string
	plural   string
	bucket   *objectstore.Bucket
	size     int
	stream   bool // PutStream (the wearables' batch uploads), else Put (records)
	mu       sync.Mutex
	acked    []ackedObject // in the order acknowledged
	failures []string
}

type ackedObject struct {
	key    string
	sha256 [32]byte
	at     time.Time
}

func (l *objectLoad) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("%s/%06d", l.name, i)
		body := make([]byte, l.size+i%1024)
		rand.Read(body)
		callCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		if l.stream {
			err = l.bucket.PutStream(callCtx, key, bytes.NewReader(body), int64(len(body)))
		} else {
			err = l.bucket.Put(callCtx, key, body)
		}
		cancel()
		l.mu.Lock()
		if err != nil {
			l.failures = append(l.failures, err.Error())
		} else {
			l.acked = append(l.acked, ackedObject{key: key, sha256: sha256.Sum256(body), at: time.Now()})
		}
		l.mu.Unlock()
	}
}

func (l *objectLoad) ackedSince(t0 time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for _, o := range l.acked {
		if !o.at.Before(t0) {
			keys = append(keys, o.key)
		}
	}
	return keys
}

func (l *objectLoad) waitAcked(t *testing.T, n int, since time.Time, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := len(l.ackedSince(since))
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			failures := l.failures
			l.mu.Unlock()
			t.Fatalf("%s: %d puts acknowledged since %s, want %d within %s; failures: %v", l.name,
				got, since.Format(time.TimeOnly), n, within, failures)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMinIONodeStoppedDuringPutsAndUploads: record puts and wearable batch
// uploads (streamed) run against the four-node MinIO, through the store's
// endpoint list; the first node, the one the clients ask first, is killed
// in the middle. Puts go on through the others; every acknowledged object
// reads back intact; the node comes back and the objects written while it
// was down are healed onto its drive.
func TestMinIONodeStoppedDuringPutsAndUploads(t *testing.T) {
	cfg, err := objectstore.ConfigFromFile(filepath.Join(haState, "minio", "minio.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	records := &objectLoad{name: "record", plural: "records", size: 8 << 10}
	batches := &objectLoad{name: "batch", plural: "wearable batches", size: 512 << 10, stream: true}
	buckets := map[*objectLoad]string{records: "ha-records-" + suffix, batches: "ha-wearables-" + suffix}
	for l, name := range buckets {
		if l.bucket, err = objectstore.OpenBucket(ctx, cfg, name, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for l := range buckets {
		wg.Go(func() { l.run(loadCtx) })
	}
	defer func() { stopLoad(); wg.Wait() }()
	for l := range buckets {
		l.waitAcked(t, 20, time.Time{}, time.Minute)
	}

	const node = "minio0"
	t.Cleanup(func() { ha(t, "start", node) })
	killed := time.Now()
	ha(t, "stop", node)
	for l := range buckets {
		l.waitAcked(t, 20, killed, 2*time.Minute)
	}
	stopLoad()
	wg.Wait()

	// Every acknowledged object reads back intact, the node still down.
	readBack := func(when string) {
		t.Helper()
		for l := range buckets {
			lost, corrupt := 0, 0
			for _, o := range l.acked {
				got, err := l.bucket.Get(ctx, o.key, 4<<20)
				switch {
				case err != nil:
					lost++
					t.Errorf("%s: %s: %v", when, o.key, err)
				case sha256.Sum256(got) != o.sha256:
					corrupt++
					t.Errorf("%s: %s: read back different bytes", when, o.key)
				}
			}
			t.Logf("%s: %s: acknowledged %d (%d while %s was down), read back intact %d, lost %d, corrupt %d; failed puts %d",
				when, l.plural, len(l.acked), len(l.ackedSince(killed)), node, len(l.acked)-lost-corrupt, lost, corrupt, len(l.failures))
		}
	}
	readBack(node + " down")

	ha(t, "start", node)
	healedStart := time.Now()
	deadline := healedStart.Add(3 * time.Minute)
	for {
		missing := 0
		for l, name := range buckets {
			for _, key := range l.ackedSince(killed) {
				if _, err := os.Stat(filepath.Join(haState, "minio", node, name, key, "xl.meta")); err != nil {
					missing++
					l.bucket.Get(ctx, key, 4<<20) // a read finds the missing shard and queues its heal
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s back: %d objects written while it was down not healed onto its drive within 3 minutes", node, missing)
		}
		time.Sleep(time.Second)
	}
	t.Logf("%s back: every object written while it was down healed onto its drive in %s", node, time.Since(healedStart).Round(time.Millisecond))
	readBack(node + " back")
}
