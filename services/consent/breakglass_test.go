package consent

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/services/platform/objectstore/objectstoretest"
)

// TestSharedBreakGlassLimitAcrossInstances: two instances keeping grants in
// the storage they share count each other's grants against a clinician's
// daily limit; an open grant is honoured at either; a day later the limit
// is free again and the old grants are gone; storage that is down, or a
// clinician id that is a path, opens nothing.
func TestSharedBreakGlassLimitAcrossInstances(t *testing.T) {
	objects := objectstoretest.New()
	limits := BreakGlassLimits{Window: 4 * time.Hour, PerDay: 2}
	open := func(name string) *breakGlass {
		dir := t.TempDir()
		b, err := openBreakGlass(limits, filepath.Join(dir, "break-glass.json"), filepath.Join(dir, "seal.key"))
		if err != nil {
			t.Fatal(err)
		}
		b.shared = objects
		return b
	}
	a, b := open("a"), open("b")
	admit := func(inst *breakGlass, patient string, at time.Time) bgOutcome {
		t.Helper()
		out, err := inst.admit("StMarysMSP", "dr-x", patient, at)
		if err != nil {
			t.Fatalf("admit %s: %v", patient, err)
		}
		return out
	}
	if out := admit(a, "pat-1", testNow); !out.allow || !out.opened {
		t.Fatalf("first grant at a: %+v", out)
	}
	if out := admit(b, "pat-2", testNow.Add(time.Minute)); !out.allow || !out.opened {
		t.Fatalf("second grant at b: %+v", out)
	}
	if out := admit(a, "pat-3", testNow.Add(2*time.Minute)); out.allow || out.code != "break-glass-limit" {
		t.Fatalf("a third grant at a, two opened across the instances: %+v, want the limit", out)
	}
	if out := admit(b, "pat-3", testNow.Add(3*time.Minute)); out.allow {
		t.Fatalf("a third grant at b: %+v, want the limit", out)
	}
	if out := admit(b, "pat-1", testNow.Add(time.Hour)); !out.allow || out.opened || !out.until.Equal(testNow.Add(4*time.Hour)) {
		t.Fatalf("pat-1 again at b within a's window: %+v, want a's grant", out)
	}
	if n := len(objects.Keys("break-glass/")); n != 2 {
		t.Fatalf("%d grants stored, want 2", n)
	}
	if out := admit(b, "pat-3", testNow.Add(25*time.Hour)); !out.allow || !out.opened {
		t.Fatalf("a day later: %+v, want a new grant", out)
	}
	if keys := objects.Keys("break-glass/"); len(keys) != 1 {
		t.Fatalf("a day later %d grants stored (%v), want only the new one", len(keys), keys)
	}
	if _, err := a.admit("StMarysMSP", "../dr-y", "pat-1", testNow); err == nil {
		t.Fatal("a clinician id that is a path opened a grant")
	}
	objects.SetDown(true)
	if out, err := a.admit("StMarysMSP", "dr-z", "pat-1", testNow); err == nil || out.allow {
		t.Fatalf("storage down: %+v, %v; want an error and no grant", out, err)
	} else if !strings.Contains(err.Error(), "break-glass") {
		t.Fatalf("storage down: %v", err)
	}
}
