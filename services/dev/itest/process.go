//go:build integration

package itest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a service process whose standard output and error are
// captured, one log across restarts.
type Process struct {
	// Args are the arguments Start runs the binary with; a test may change
	// them before a restart.
	Args []string

	t     testing.TB
	bin   string
	ready string // the log message that says the process is ready
	// grpcAddr, if set, is where the health check says it is ready instead.
	grpcAddr string
	cmd      *exec.Cmd
	// exited is closed once the current run of the binary has ended.
	exited chan struct{}
	logs   *LogBuffer
}

// StartProcess runs bin with args, waits up to 60 s for a log line that
// contains ready, and stops the process at the test's cleanup.
func StartProcess(t testing.TB, bin string, args []string, ready string) *Process {
	t.Helper()
	p := &Process{Args: args, t: t, bin: bin, ready: ready, logs: &LogBuffer{}}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// Start runs the binary again with p.Args (after Kill) and waits until it
// is ready: its health check answers SERVING, or its new output says so.
func (p *Process) Start() {
	p.t.Helper()
	offset := len(p.Log())
	p.cmd = exec.Command(p.bin, p.Args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	cmd, exited := p.cmd, make(chan struct{})
	p.exited = exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	if p.grpcAddr == "" {
		p.WaitLogAfter(offset, p.ready, 60*time.Second)
		return
	}
	WaitHealthy(p.t, p.grpcAddr, 60*time.Second, exited, p.Log)
}

// GRPCAddr is the daemon's gRPC address (StartDaemon's).
func (p *Process) GRPCAddr() string { return p.grpcAddr }

// Pid is the running process's id (0 when it is not running).
func (p *Process) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Log returns what the process has logged so far.
func (p *Process) Log() string { return p.logs.String() }

// WaitLog polls the log for a line containing s.
func (p *Process) WaitLog(s string, within time.Duration) {
	p.t.Helper()
	p.WaitLogAfter(0, s, within)
}

// WaitLogAfter polls the log written after offset for s.
func (p *Process) WaitLogAfter(offset int, s string, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.Log()[offset:], s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not log %q within %v; its log:\n%s", filepath.Base(p.bin), s, within, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends the process at once, as a crash would, and waits until it has.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// Stop asks the process to end (SIGTERM) and kills it if it has not ended
// within 20 s. It does nothing if the process has already ended.
func (p *Process) Stop() {
	if p.exited == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// LogLines returns the JSON log records whose msg is msg.
func (p *Process) LogLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Log()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// LogBuffer collects output written from one goroutine (a process's
// copier, a logger) and read from another (the test).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartDaemon runs a daemon binary with args, waits up to 60 s until its
// gRPC health check at grpcAddr answers SERVING, and stops the process at
// the test's cleanup.
func StartDaemon(t testing.TB, bin string, args []string, grpcAddr string) *Process {
	t.Helper()
	p := &Process{Args: args, t: t, bin: bin, grpcAddr: grpcAddr, logs: &LogBuffer{}}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}
