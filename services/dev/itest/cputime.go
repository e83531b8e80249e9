package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthexchange/services/dev/devenv"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTick = 10 * time.Millisecond

// CPUTime is the CPU time (user and system) process pid has used so far,
// from /proc, for benchmarks that report where the machine's time goes.
func CPUTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from after its closing one (state is field 3).
	end := strings.LastIndexByte(string(raw), ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(raw[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// NetworkCPU is the CPU time each process of the running test network
// (orderer, peers, chaincode servers and MinIO: the pid files beside
// network.json) has used so far, by name.
func NetworkCPU(t testing.TB) map[string]time.Duration {
	t.Helper()
	dir := filepath.Dir(devenv.DefaultPath())
	files, err := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(dir, "minio", "minio.pid"))
	out := map[string]time.Duration{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if cpu, err := CPUTime(pid); err == nil {
			out[strings.TrimSuffix(filepath.Base(f), ".pid")] = cpu
		}
	}
	return out
}

// CPUShare reports, as benchmark metrics, how many CPU seconds per second
// of elapsed each network process used between before and after
// (NetworkCPU readings), e.g. "peers-cores".
func CPUShare(b *testing.B, before, after map[string]time.Duration, elapsed time.Duration) {
	groups := map[string]time.Duration{}
	for name, cpu := range after {
		group := name
		switch {
		case strings.HasSuffix(name, "-peer"):
			group = "peers"
		case strings.HasSuffix(name, "-chaincode"):
			group = "chaincode"
		}
		groups[group] += cpu - before[name]
	}
	for group, cpu := range groups {
		b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), group+"-cores")
	}
}
