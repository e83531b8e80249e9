package wearablecli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthexchange/wearables/device"
)

func TestCommands(t *testing.T) {
	// No development network: every default comes from the flags.
	t.Setenv("HX_STATE", t.TempDir())
	dir := t.TempDir()
	key := filepath.Join(dir, "watch-1.json")
	noEnv := filepath.Join(dir, "no-network.json")

	// The cases run in order: keygen first, the others use its key.
	tests := []struct {
		name               string
		args               []string
		wantCode           int
		wantStdout, wantEr string
	}{
		{"no command", nil, 2, "", "Usage: wearable COMMAND"},
		{"keygen without a device", []string{"keygen", "--patient", "pat-1", "--out", key}, 2, "", "--device, --patient and --out are required"},
		{"keygen with a bad device id", []string{"keygen", "--device", "has space", "--patient", "pat-1", "--out", key}, 1, "", "deviceId"},
		{"keygen", []string{"keygen", "--device", "watch-1", "--patient", "pat-1", "--out", key, "--json"}, 0, `"publicKey"`, ""},
		{"keygen again refuses to overwrite", []string{"keygen", "--device", "watch-1", "--patient", "pat-1", "--out", key}, 1, "", "refusing to overwrite " + key},
		{"stream without a key", []string{"stream", "--env", noEnv}, 2, "", "--device-key is required"},
		{"stream in both modes", []string{"stream", "--device-key", key, "--realtime", "--load", "--env", noEnv}, 2, "", "not both"},
		{"stream with --backlog in real time", []string{"stream", "--device-key", key, "--backlog", "1h", "--env", noEnv}, 2, "", "--backlog is for --load runs"},
		{"stream with a backlog beyond six days", []string{"stream", "--device-key", key, "--load", "--backlog", "145h", "--env", noEnv}, 2, "", "backlog 145h0m0s: must be positive and at most 144h0m0s"},
		{"stream with no backlog", []string{"stream", "--device-key", key, "--load", "--backlog", "0s", "--env", noEnv}, 2, "", "backlog 0s"},
		{"stream with a backlog gets as far as TLS", []string{"stream", "--device-key", key, "--load", "--backlog", "2m", "--env", noEnv, "--server", "127.0.0.1:1"}, 1, "", "--ca, --cert and --key"},
		{"stream with an empty batch", []string{"stream", "--device-key", key, "--batch", "0", "--env", noEnv}, 2, "", "batch size 0"},
		{"stream with implausible above 1", []string{"stream", "--device-key", key, "--implausible", "1.5", "--env", noEnv}, 2, "", "implausible fraction"},
		{"stream without TLS files", []string{"stream", "--device-key", key, "--env", noEnv, "--server", "127.0.0.1:1"}, 1, "", "--ca, --cert and --key"},
		{"stream without a server", []string{"stream", "--device-key", key, "--env", noEnv}, 1, "", "no address of the ingest service: pass --server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := app(&stdout, &stderr).Run(ctx, tt.args, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", &stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantEr) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.wantEr)
			}
			if tt.name != "keygen" {
				return
			}
			var out map[string]string
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			pub, err := base64.StdEncoding.DecodeString(out["publicKey"])
			if err != nil || len(pub) != 32 {
				t.Fatalf("public key %q is not standard base64 of an Ed25519 key", out["publicKey"])
			}
			d, err := device.Open(key)
			if err != nil {
				t.Fatal(err)
			}
			if d.PublicKey() != out["publicKey"] || d.ID() != "watch-1" || d.PatientID() != "pat-1" {
				t.Fatalf("key file holds %s %s %s, printed %v", d.ID(), d.PatientID(), d.PublicKey(), out)
			}
		})
	}
}
