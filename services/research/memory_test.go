package research

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// memoryPeak measures a build's memory: it samples the heap in use (what
// runtime.MemStats.HeapInuse counts) every few milliseconds until stop,
// which returns the highest sample, and the peak resident set of the
// process since memoryPeak was called (VmHWM, reset first; 0 where /proc
// cannot say). It collects garbage first, so the peak is the build's.
func memoryPeak() (stop func() (heapBytes, rssBytes uint64)) {
	runtime.GC()
	// Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
	resetRSS := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() uint64 {
		metrics.Read(samples)
		return samples[0].Value.Uint64() + samples[1].Value.Uint64()
	}
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		highest := read()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				highest = max(highest, read())
			case <-done:
				peak <- max(highest, read())
				return
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		heap := <-peak
		if !resetRSS {
			return heap, 0
		}
		return heap, vmHWM()
	}
}

// vmHWM is the process's peak resident set, from /proc/self/status.
func vmHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
