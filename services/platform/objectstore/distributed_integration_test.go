//go:build integration

package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/objectstore"
)

// minioNode is one server of a distributed MinIO run by the test.
type minioNode struct {
	addr, data string
	cmd        *exec.Cmd
}

// distributedMinIO runs four MinIO servers as one erasure-coded store (2
// data and 2 parity shards per object) on loopback ports of their own,
// each with its own drive folder; they are killed and their folders
// removed when the test ends.
type distributedMinIO struct {
	t          *testing.T
	bin        string
	user, pass string
	nodes      []*minioNode
}

func newDistributedMinIO(t *testing.T) *distributedMinIO {
	t.Helper()
	secret := make([]byte, 16)
	rand.Read(secret)
	d := &distributedMinIO{t: t, bin: itest.MinIOBinary(t), user: "hxdist", pass: hex.EncodeToString(secret)}
	root := t.TempDir()
	for i := range 4 {
		n := &minioNode{addr: itest.FreeAddr(t), data: filepath.Join(root, fmt.Sprintf("drive%d", i+1))}
		if err := os.MkdirAll(n.data, 0o700); err != nil {
			t.Fatal(err)
		}
		d.nodes = append(d.nodes, n)
	}
	for i := range d.nodes {
		d.start(i)
	}
	t.Cleanup(func() {
		for i := range d.nodes {
			d.kill(i)
		}
	})
	for i := range d.nodes {
		d.waitLive(i)
	}
	return d
}

func (d *distributedMinIO) start(i int) {
	var endpoints []string
	for _, n := range d.nodes {
		endpoints = append(endpoints, "http://"+n.addr+n.data)
	}
	n := d.nodes[i]
	n.cmd = exec.Command(d.bin, append([]string{"server", "--quiet", "--address", n.addr}, endpoints...)...)
	n.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+d.user, "MINIO_ROOT_PASSWORD="+d.pass)
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(filepath.Dir(n.data), fmt.Sprintf("node%d.log", i+1)))
	if err != nil {
		d.t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *distributedMinIO) kill(i int) {
	n := d.nodes[i]
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	n.cmd.Wait()
	n.cmd = nil
}

// waitLive waits until node i answers its health check and the cluster
// has its write quorum.
func (d *distributedMinIO) waitLive(i int) {
	deadline := time.Now().Add(90 * time.Second)
	for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
		for {
			resp, err := http.Get("http://" + d.nodes[i].addr + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				d.t.Fatalf("MinIO node %d: %s not ready within 90 s", i+1, path)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (d *distributedMinIO) config() objectstore.Config {
	cfg := objectstore.Config{Endpoint: d.nodes[0].addr, AccessKey: d.user, SecretKey: d.pass}
	for _, n := range d.nodes[1:] {
		cfg.Failover = append(cfg.Failover, n.addr)
	}
	return cfg
}

// healed reports whether node i's drive holds a shard of key (MinIO keeps
// an object's metadata as <drive>/<bucket>/<key>/xl.meta).
func (d *distributedMinIO) healed(i int, bucket, key string) bool {
	_, err := os.Stat(filepath.Join(d.nodes[i].data, bucket, key, "xl.meta"))
	return err == nil
}

// TestDistributedStoreLosesNoNode: four MinIO nodes with erasure coding,
// the bucket given all four endpoints. Node 1 is killed while records are
// being put: every put acknowledged before and after reads back intact and
// puts continue (through the other nodes). Node 1 comes back and the
// objects written while it was down are healed onto its drive; then nodes 2
// and 3 are killed, and those objects still read back intact from nodes 1
// and 4: the healed shards are real.
func TestDistributedStoreLosesNoNode(t *testing.T) {
	d := newDistributedMinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const bucket = "hx-dist"
	b, err := objectstore.OpenBucket(ctx, d.config(), bucket, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string][]byte{}
	put := func(prefix string, n int) []string {
		var keys []string
		for i := range n {
			key := fmt.Sprintf("%s/record-%03d", prefix, i)
			body := make([]byte, 4096+i)
			rand.Read(body)
			if err := b.Put(ctx, key, body); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			acked[key] = body
			keys = append(keys, key)
		}
		return keys
	}
	readAll := func(when string, keys map[string][]byte) {
		t.Helper()
		for key, want := range keys {
			got, err := b.Get(ctx, key, 1<<20)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %s: %d bytes, %v; want the %d acknowledged", when, key, len(got), err, len(want))
			}
		}
	}
	put("before", 30)
	d.kill(0)
	during := put("during", 30)
	readAll("node 1 down", acked)
	t.Logf("node 1 down: %d puts acknowledged in all, every one reads back", len(acked))

	d.start(0)
	d.waitLive(0)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		missing := 0
		for _, key := range during {
			if !d.healed(0, bucket, key) {
				missing++
				b.Get(ctx, key, 1<<20) // a read finds the missing shard and queues its heal
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 back: %d of the %d objects written while it was down not healed onto its drive within 2 minutes", missing, len(during))
		}
		time.Sleep(time.Second)
	}
	d.kill(1)
	d.kill(2)
	onlyDuring := map[string][]byte{}
	for _, key := range during {
		onlyDuring[key] = acked[key]
	}
	readAll("nodes 2 and 3 down, after the heal", onlyDuring)
	t.Logf("healed onto node 1 and read back with nodes 2 and 3 down: %d objects", len(onlyDuring))
}
