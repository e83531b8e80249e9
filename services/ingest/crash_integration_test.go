//go:build integration

package ingest_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/dev/itest"
	wdevice "healthexchange/wearables/device"
	"healthexchange/wearables/sim"
)

// pairKeyFile makes a device key file for the patient and pairs it.
func (h *harness) pairKeyFile(t testing.TB, p itest.Patient) *wdevice.Device {
	t.Helper()
	d, err := wdevice.Create(filepath.Join(t.TempDir(), "device.json"), itest.Unique("watch"), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.consent.CLI(t, p.Token, p.Key, "device", "pair", "--id", d.ID(), "--public-key", d.PublicKey()); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestKillIngestMidStream: three devices stream; ingestd is killed (SIGKILL)
// while they do and started again. The devices reconnect and resend what was
// not acknowledged. Afterwards every generated reading is stored exactly
// once, and every batch is anchored and provable.
func TestKillIngestMidStream(t *testing.T) {
	h := start(t)
	ctx := itest.Context(t)
	const devices, perDevice, batch = 3, 3000, 100
	var patients []itest.Patient
	var devs []sim.Device
	for range devices {
		p := itest.NewPatient(t, h.consent)
		patients = append(patients, p)
		devs = append(devs, h.pairKeyFile(t, p))
	}
	cfg := sim.NewConfig()
	cfg.Mode, cfg.BatchSize, cfg.Readings, cfg.Window, cfg.Seed = sim.Load, batch, perDevice, 8, 7
	cfg.BackoffInitial, cfg.BackoffMax, cfg.StopTimeout = 100*time.Millisecond, time.Second, 60*time.Second
	fleet, err := sim.NewFleet(h.client, devs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   sim.Summary
		err error
	}
	done := make(chan result, 1)
	go func() { s, err := fleet.Run(ctx); done <- result{s, err} }()

	deadline := time.Now().Add(60 * time.Second)
	for fleet.Stats().Acked < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("no batch acknowledged within a minute: %+v\n%s", fleet.Stats(), h.ingest.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.ingest.Kill()
	killedAt := fleet.Stats()
	h.ingest.Start()
	r := <-done
	if r.err != nil {
		t.Fatalf("fleet: %v (%+v)", r.err, r.s)
	}
	s := r.s
	t.Logf("killed after %d acknowledged batches; at the end: %d batches, %d acknowledged, %d resent, %d duplicates, %d reconnects",
		killedAt.Acked, s.Batches, s.Acked, s.Resent, s.Duplicates, s.Reconnects)
	if s.Generated != devices*perDevice || s.AckedReadings != s.Generated || s.Lost != 0 || s.RejectedBatches != 0 || s.Reconnects == 0 {
		t.Fatalf("fleet summary %+v: want every reading acknowledged, none lost, after at least one reconnect", s)
	}

	// Every reading is stored once: read each patient's whole backlog.
	from := time.Now().Add(-sim.LoadBacklog - time.Hour)
	total := 0
	for i, p := range patients {
		got, err := h.client.ReadReadings(ctx, &ingestv1.ReadReadingsRequest{PatientId: p.ID,
			From: from.Format(time.RFC3339Nano), To: time.Now().Format(time.RFC3339Nano), Limit: 100000}, as(p.Token))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, rd := range got.GetReadings() {
			k := fmt.Sprintf("%s/%d/%d", rd.GetDeviceId(), rd.GetSeq(), rd.GetIndex())
			if seen[k] {
				t.Fatalf("reading %s stored twice", k)
			}
			seen[k] = true
		}
		if len(seen) != perDevice {
			t.Fatalf("patient %d: %d readings stored, want %d", i, len(seen), perDevice)
		}
		total += len(seen)
	}
	// Every batch is anchored: each one's first reading has a proof.
	for i, d := range devs {
		for seq := uint64(1); seq <= perDevice/batch; seq++ {
			pr := h.proof(ctx, t, patients[i].Token, &ingestv1.GetProofRequest{PatientId: patients[i].ID, DeviceId: d.ID(), Seq: seq})
			if err := verify(pr); err != nil {
				t.Fatalf("proof of batch %d of %s: %v", seq, d.ID(), err)
			}
		}
	}
	t.Logf("%d readings stored exactly once, %d batches proven", total, devices*perDevice/batch)
}
