package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAlive(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !alive(pid) {
		t.Fatal("a running process is not alive")
	}
	cmd.Process.Kill()
	// Not yet reaped: a zombie, which kill -0 still reaches.
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed (zombie) process still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Wait()
	if alive(pid) {
		t.Fatal("a reaped process is alive")
	}
}

func TestRunningAndBinaryNewer(t *testing.T) {
	dir := t.TempDir()
	s := &Stack{Cache: filepath.Join(dir, "cache"), State: filepath.Join(dir, "state")}
	if _, ok := s.running("consent"); ok {
		t.Fatal("running without a pid file")
	}
	os.MkdirAll(filepath.Dir(s.pidFile("consent")), 0o700)
	os.MkdirAll(s.bin(), 0o700)
	os.WriteFile(s.pidFile("consent"), []byte("not a pid\n"), 0o600)
	if _, ok := s.running("consent"); ok {
		t.Fatal("running with a malformed pid file")
	}
	os.WriteFile(s.pidFile("consent"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	if pid, ok := s.running("consent"); !ok || pid != os.Getpid() {
		t.Fatalf("running = %d, %v; want this process", pid, ok)
	}
	old := time.Now().Add(-time.Hour)
	os.WriteFile(filepath.Join(s.bin(), "consentd"), []byte("binary"), 0o700)
	os.Chtimes(filepath.Join(s.bin(), "consentd"), old, old)
	if s.binaryNewer("consent") {
		t.Error("a binary older than the process counts as newer")
	}
	os.Chtimes(filepath.Join(s.bin(), "consentd"), time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if !s.binaryNewer("consent") {
		t.Error("a binary built after the process started does not count as newer")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var lines []string
	for i := range 30 {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	if got := tail(path, 3); got != "line 27\nline 28\nline 29" {
		t.Errorf("tail = %q", got)
	}
	if got := tail(filepath.Join(t.TempDir(), "none"), 3); !strings.Contains(got, "no log") {
		t.Errorf("tail of a missing file = %q", got)
	}
}
