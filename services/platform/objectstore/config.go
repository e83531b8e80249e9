package objectstore

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config says which server to talk to and as whom.
type Config struct {
	// Endpoint is host:port (or a host alone), without a scheme.
	Endpoint string
	// Failover are more endpoints of the same store (the other nodes of a
	// distributed MinIO, or of any S3-compatible cluster), tried in order
	// when one cannot be reached.
	Failover []string
	// AccessKey and SecretKey are the S3 credentials (MinIO's root user and
	// password in development).
	AccessKey string
	SecretKey string
	// UseTLS selects https. Plain http is accepted for loopback endpoints
	// only.
	UseTLS bool
	// CAFile, with UseTLS, is a PEM file of the CA certificates that the
	// store's certificates are checked against instead of the system's (a
	// private CA, as the high-availability profile's MinIO has).
	CAFile string
}

// Validate reports the first missing or unsafe setting; the error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	if c.Endpoint == "" {
		return fmt.Errorf("%w: endpoint is empty", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for _, e := range c.Endpoints() {
		if seen[e] {
			return fmt.Errorf("%w: endpoint %q is given twice", ErrInvalidConfig, e)
		}
		seen[e] = true
		if err := c.checkEndpoint(e); err != nil {
			return err
		}
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return fmt.Errorf("%w: access key and secret key are both required", ErrInvalidConfig)
	}
	if c.CAFile != "" && !c.UseTLS {
		return fmt.Errorf("%w: a CA file is for TLS: set UseTLS too", ErrInvalidConfig)
	}
	return nil
}

// Endpoints are Endpoint and then Failover.
func (c Config) Endpoints() []string { return append([]string{c.Endpoint}, c.Failover...) }

func (c Config) checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return fmt.Errorf("%w: an endpoint is empty", ErrInvalidConfig)
	}
	if strings.Contains(endpoint, "://") || strings.ContainsAny(endpoint, "/?#") {
		return fmt.Errorf("%w: endpoint %q must be host:port without scheme or path (UseTLS selects https)",
			ErrInvalidConfig, endpoint)
	}
	host := endpoint
	if h, port, err := net.SplitHostPort(endpoint); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: endpoint %q: port must be a number from 1 to 65535", ErrInvalidConfig, endpoint)
		}
		host = h
	} else if strings.Contains(endpoint, ":") && net.ParseIP(endpoint) == nil {
		return fmt.Errorf("%w: endpoint %q: %w", ErrInvalidConfig, endpoint, err)
	}
	if host == "" {
		return fmt.Errorf("%w: endpoint %q has no host", ErrInvalidConfig, endpoint)
	}
	if !c.UseTLS && !isLoopback(host) {
		return fmt.Errorf("%w: plain http to %s, which is not a loopback address; set UseTLS",
			ErrInvalidConfig, host)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the configuration without the secret key.
func (c Config) String() string {
	secret := "unset"
	if c.SecretKey != "" {
		secret = "redacted"
	}
	return fmt.Sprintf("objectstore.Config{Endpoint:%q Failover:%q AccessKey:%q SecretKey:%s UseTLS:%t CAFile:%q}",
		c.Endpoint, c.Failover, c.AccessKey, secret, c.UseTLS, c.CAFile)
}

// GoString is String, so %#v does not print the secret key either.
func (c Config) GoString() string { return c.String() }

// clientFile is what test-network/minio/minio.sh writes to minio.json. The
// credentials are either in the file itself or, as minio.sh writes them, in a
// separate env file (MINIO_ROOT_USER=..., MINIO_ROOT_PASSWORD=...) whose path
// is absolute or relative to minio.json.
type clientFile struct {
	Endpoint        string   `json:"endpoint"`
	Failover        []string `json:"failover"`
	UseTLS          bool     `json:"useTLS"`
	CAFile          string   `json:"caFile"`
	CredentialsFile string   `json:"credentialsFile"`
	AccessKey       string   `json:"accessKey"`
	SecretKey       string   `json:"secretKey"`
}

// ConfigFromFile reads the minio.json that `minio.sh up` writes, and the
// credentials file it names, and returns the validated Config.
func ConfigFromFile(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("objectstore config: %w (is MinIO up? make minio-up)", err)
	}
	var f clientFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, fmt.Errorf("objectstore config: %s: %w", path, err)
	}
	cfg := Config{Endpoint: f.Endpoint, Failover: f.Failover, AccessKey: f.AccessKey, SecretKey: f.SecretKey, UseTLS: f.UseTLS}
	if f.CAFile != "" {
		cfg.CAFile = beside(path, f.CAFile)
	}
	if f.CredentialsFile != "" {
		if cfg.AccessKey != "" || cfg.SecretKey != "" {
			return Config{}, fmt.Errorf("%w: %s names a credentials file and holds keys too; keep one",
				ErrInvalidConfig, path)
		}
		if cfg.AccessKey, cfg.SecretKey, err = readCredentials(beside(path, f.CredentialsFile)); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("objectstore config: %s: %w", path, err)
	}
	return cfg, nil
}

// beside is name as a path: as it is when absolute, else relative to the
// folder of the description at path.
func beside(path, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(filepath.Dir(path), name)
}

// readCredentials reads MINIO_ROOT_USER and MINIO_ROOT_PASSWORD from an env
// file: KEY=VALUE lines, blank lines and # comments ignored, no quoting.
func readCredentials(path string) (user, password string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("objectstore credentials: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			// The line is not quoted back: it may hold the secret.
			return "", "", fmt.Errorf("%w: %s line %d is not KEY=VALUE", ErrInvalidConfig, path, n)
		}
		switch key {
		case "MINIO_ROOT_USER":
			user = value
		case "MINIO_ROOT_PASSWORD":
			password = value
		}
	}
	if user == "" || password == "" {
		return "", "", fmt.Errorf("%w: %s lacks MINIO_ROOT_USER or MINIO_ROOT_PASSWORD", ErrInvalidConfig, path)
	}
	return user, password, nil
}
