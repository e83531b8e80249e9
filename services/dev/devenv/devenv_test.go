package devenv

import (
	"path/filepath"
	"testing"
)

func TestMinIOConfigPath(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"HX_MINIO_CONFIG wins": {
			env:  map[string]string{"HX_MINIO_CONFIG": "/x/m.json", "HX_STATE": "/state", "HX_CACHE": "/cache"},
			want: "/x/m.json",
		},
		"HX_STATE next": {
			env:  map[string]string{"HX_STATE": "/state", "HX_CACHE": "/cache"},
			want: "/state/minio/minio.json",
		},
		"HX_CACHE next": {
			env:  map[string]string{"HX_CACHE": "/cache"},
			want: "/cache/network/minio/minio.json",
		},
		"else the repository's .cache": {
			want: filepath.Join(root, ".cache", "network", "minio", "minio.json"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"HX_MINIO_CONFIG", "HX_STATE", "HX_CACHE"} {
				t.Setenv(k, tc.env[k])
			}
			if got := MinIOConfigPath(); got != tc.want {
				t.Fatalf("MinIOConfigPath() = %s, want %s", got, tc.want)
			}
		})
	}
}

// The development network's settings keep every service on loopback.
func TestSettingsAreLoopbackOnly(t *testing.T) {
	e := Env{Path: filepath.Join(t.TempDir(), "network.json"),
		Services: map[string]Service{"consent": {GRPC: "127.0.0.1:27101", HTTP: "127.0.0.1:27102"}}}
	s, err := e.Settings("consent")
	if err != nil {
		t.Fatal(err)
	}
	if !s.LoopbackOnly {
		t.Fatal("the development profile's settings allow addresses off loopback")
	}
}
