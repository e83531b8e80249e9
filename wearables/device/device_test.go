package device

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"healthexchange/wearables/mhealth"
)

func newDevice(t *testing.T) (string, *Device) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys", "watch-1.json")
	d, err := Create(path, "watch-1", "pat-1")
	if err != nil {
		t.Fatal(err)
	}
	return path, d
}

func TestCreateOpen(t *testing.T) {
	path, d := newDevice(t)
	for _, p := range []string{path, StatePath(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	loaded, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.ID() != "watch-1" || loaded.PatientID() != "pat-1" || loaded.PublicKey() != d.PublicKey() {
		t.Fatalf("loaded %s %s %s, want watch-1 pat-1 %s", loaded.ID(), loaded.PatientID(), loaded.PublicKey(), d.PublicKey())
	}
	pub, err := base64.StdEncoding.DecodeString(loaded.PublicKey())
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("public key %q is not standard base64 of 32 bytes", loaded.PublicKey())
	}

	t.Run("a batch signed by the loaded key verifies with the public key", func(t *testing.T) {
		at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		b := mhealth.Batch{DeviceID: "watch-1", PatientID: "pat-1", Seq: 1, Readings: []mhealth.Reading{mhealth.NewHeartRate(61, at)}}
		sb, err := loaded.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mhealth.Verify(pub, sb.Payload, sb.Signature)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != 1 || got.DeviceID != "watch-1" || len(got.Readings) != 1 {
			t.Fatalf("verified batch %+v", got)
		}
	})
	t.Run("a batch of another device or patient is not signed", func(t *testing.T) {
		at := time.Now().UTC()
		for _, b := range []mhealth.Batch{
			{DeviceID: "watch-2", PatientID: "pat-1", Seq: 1, Readings: []mhealth.Reading{mhealth.NewHeartRate(61, at)}},
			{DeviceID: "watch-1", PatientID: "pat-2", Seq: 1, Readings: []mhealth.Reading{mhealth.NewHeartRate(61, at)}},
		} {
			if _, err := loaded.Sign(b); !errors.Is(err, ErrMismatch) {
				t.Errorf("Sign(%s/%s): %v, want ErrMismatch", b.DeviceID, b.PatientID, err)
			}
		}
	})
}

func TestCreateRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		device  string
		want    error
	}{
		{"an existing key file", func(t *testing.T, path string) {
			if _, err := Create(path, "watch-1", "pat-1"); err != nil {
				t.Fatal(err)
			}
		}, "watch-1", ErrExists},
		{"a stray state file", func(t *testing.T, path string) {
			if err := os.WriteFile(StatePath(path), []byte(`{"deviceId":"watch-1","nextSeq":9}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "watch-1", ErrExists},
		{"an invalid device id", func(*testing.T, string) {}, "has space", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "watch.json")
			tt.prepare(t, path)
			before, _ := os.ReadFile(path)
			beforeState, _ := os.ReadFile(StatePath(path))
			_, err := Create(path, tt.device, "pat-1")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Create: %v, want %v", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			afterState, _ := os.ReadFile(StatePath(path))
			if string(before) != string(after) || string(beforeState) != string(afterState) {
				t.Fatal("a refused Create changed the files")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   error
	}{
		{"key readable by group", chmod("", 0o640), ErrPermissions},
		{"key readable by others", chmod("", 0o604), ErrPermissions},
		{"key writable by group", chmod("", 0o620), ErrPermissions},
		{"state readable by others", chmod(".state", 0o644), ErrPermissions},
		{"state missing", func(t *testing.T, path string) { mustRemove(t, StatePath(path)) }, ErrFile},
		{"state of another device", write(".state", `{"deviceId":"watch-2","nextSeq":3}`), ErrFile},
		{"state at seq 0", write(".state", `{"deviceId":"watch-1","nextSeq":0}`), ErrFile},
		{"state with an unknown field", write(".state", `{"deviceId":"watch-1","nextSeq":3,"x":1}`), ErrFile},
		{"key not JSON", write("", `not json`), ErrFile},
		{"short private key", write("", `{"deviceId":"watch-1","patientId":"pat-1","privateKey":"AAAA","publicKey":"AAAA"}`), ErrFile},
		{"public key not the private key's", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "other.json")
			o, err := Create(other, "watch-1", "pat-1")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var k keyFile
			if err := strictUnmarshal(raw, &k); err != nil {
				t.Fatal(err)
			}
			k.PublicKey = o.PublicKey()
			write("", `{"deviceId":"watch-1","patientId":"pat-1","privateKey":"`+k.PrivateKey+`","publicKey":"`+k.PublicKey+`"}`)(t, path)
		}, ErrFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := newDevice(t)
			tt.damage(t, path)
			if _, err := Open(path); !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
		})
	}
}

func chmod(suffix string, mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.Chmod(path+suffix, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func write(suffix, content string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path+suffix, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestSeqPersistsAcrossRestart(t *testing.T) {
	path, d := newDevice(t)
	for want := uint64(1); want <= 3; want++ {
		got, err := d.NextSeq()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextSeq = %d, want %d", got, want)
		}
	}
	// A restart: a new Device from the same files, the old one forgotten.
	restarted, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := restarted.NextSeq(); err != nil || got != 4 {
		t.Fatalf("first NextSeq after restart = %d, %v; want 4", got, err)
	}

	t.Run("a failed write hands nothing out", func(t *testing.T) {
		dir := filepath.Dir(path)
		keep := filepath.Join(t.TempDir(), "keep")
		if err := os.Rename(dir, keep); err != nil {
			t.Fatal(err)
		}
		if _, err := restarted.NextSeq(); err == nil {
			t.Fatal("NextSeq succeeded without its state file's folder")
		}
		if err := os.Rename(keep, dir); err != nil {
			t.Fatal(err)
		}
		if got, err := restarted.NextSeq(); err != nil || got != 5 {
			t.Fatalf("NextSeq after the failure = %d, %v; want 5", got, err)
		}
	})
}
