package itest

import (
	"os"
	"testing"
	"time"
)

func TestCPUTimeGrowsWithWork(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x++
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before || x == 0 {
		t.Errorf("CPU time %v then %v after 100 ms of spinning: want it to grow", before, after)
	}
	if _, err := CPUTime(1 << 30); err == nil {
		t.Error("CPU time of a process that does not exist: want an error")
	}
}
