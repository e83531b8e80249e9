//go:build integration

package itest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MinIO is a private MinIO server for one test binary: its own state folder
// and free ports, run by test-network/minio/minio.sh with HX_STATE,
// HX_MINIO_PORT and HX_MINIO_CONSOLE_PORT set. HX_CACHE is left as it is,
// so the cached server binary is reused (minio.sh builds it if missing).
// Tests that kill the server use it rather than the shared one that other
// packages' tests use.
type MinIO struct {
	state  string   // HX_STATE for minio.sh: this server's temporary state folder
	port   int      // the S3 port on 127.0.0.1
	script string   // test-network/minio/minio.sh
	env    []string // the environment minio.sh runs in
}

// StartMinIO starts a private server (`minio.sh up`) and waits until it
// answers. It is for TestMain; minio.sh writes its progress to standard
// error.
func StartMinIO() (*MinIO, error) {
	script, err := minioScript()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "minio-test")
	if err != nil {
		return nil, err
	}
	m := &MinIO{state: state, port: ports[0], script: script, env: append(os.Environ(),
		"HX_STATE="+state,
		"HX_MINIO_PORT="+strconv.Itoa(ports[0]),
		"HX_MINIO_CONSOLE_PORT="+strconv.Itoa(ports[1]))}
	if err := m.Start(); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return m, nil
}

// ConfigPath is the server's client configuration, <state>/minio/minio.json,
// as objectstore.ConfigFromFile reads it.
func (m *MinIO) ConfigPath() string { return filepath.Join(m.state, "minio", "minio.json") }

// pidFile is where minio.sh records the server's pid.
func (m *MinIO) pidFile() string { return filepath.Join(m.state, "minio", "minio.pid") }

// Kill ends the server at once, as a crash would (SIGKILL to the pid that
// minio.sh recorded), and waits until its port refuses connections.
func (m *MinIO) Kill() error {
	raw, err := os.ReadFile(m.pidFile())
	if err != nil {
		return fmt.Errorf("killing minio: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("killing minio: pid file %s: %w", m.pidFile(), err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing minio (pid %d): %w", pid, err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if conn != nil {
			conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio (pid %d) killed, but %s still does not refuse connections after 30s", pid, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// minio.sh runs the server detached, so nothing here reaps it: where no
	// init reaps orphans the dead server stays a zombie, which kill -0 takes
	// for alive, and `minio.sh up` would wait for it to answer. Without the
	// pid file, up starts afresh.
	if err := os.Remove(m.pidFile()); err != nil {
		return fmt.Errorf("killing minio: %w", err)
	}
	return nil
}

// Start runs `minio.sh up` again: the same data folder, credentials and
// ports. It works after Kill.
func (m *MinIO) Start() error { return m.run("up") }

// Close stops the server (`minio.sh down`) and removes its state folder.
func (m *MinIO) Close() error {
	return errors.Join(m.run("down"), os.RemoveAll(m.state))
}

// run runs minio.sh with cmd in the private environment; its output goes
// to standard error.
func (m *MinIO) run(cmd string) error {
	c := exec.Command(m.script, cmd)
	c.Env = m.env
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("minio.sh %s: %w", cmd, err)
	}
	return nil
}

// minioScript finds test-network/minio/minio.sh in the working directory
// or the nearest folder above it that has one.
func minioScript() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		script := filepath.Join(dir, "test-network", "minio", "minio.sh")
		if _, err := os.Stat(script); err == nil {
			return script, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no test-network/minio/minio.sh in %s or any folder above it", wd)
		}
	}
}

// MinIOBinary is the path of the cached MinIO server (built by minio.sh
// if missing), for tests that run servers of their own.
func MinIOBinary(t testing.TB) string {
	t.Helper()
	script, err := minioScript()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", script, "bin").Output()
	if err != nil {
		t.Fatalf("minio.sh bin: %v", err)
	}
	return strings.TrimSpace(string(out))
}
