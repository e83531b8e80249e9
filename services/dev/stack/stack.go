// Package stack runs the whole exchange on this machine for a person to
// try: the Fabric test network and MinIO (through their scripts), then the
// four services as background processes, each ready when its gRPC health
// check answers SERVING. It says what runs where and what to try next, and
// stops exactly what it started (by recorded pid).
//
// It is the development harness behind make up, make status and make down;
// nothing in production runs it. It must never leave a process it cannot
// name, nor report a service ready that does not answer its health check.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/mtls"
)

// Stack is the exchange on this machine, rooted at a checkout.
type Stack struct {
	// Root is the repository; Cache its .cache (HX_CACHE); State the
	// network's state folder (HX_STATE).
	Root, Cache, State string
	Out, Err           io.Writer
	// ReadyTimeout bounds how long a service may take to become SERVING.
	ReadyTimeout time.Duration
}

// New is the stack of the repository that contains the working directory.
func New(stdout, stderr io.Writer) (*Stack, error) {
	root, ok := devenv.RepoRoot()
	if !ok {
		return nil, errors.New("run this inside the repository (no test-network/network.sh above the working directory)")
	}
	cache := os.Getenv("HX_CACHE")
	if cache == "" {
		cache = filepath.Join(root, ".cache")
	}
	return &Stack{Root: root, Cache: cache, State: devenv.StateDir(), Out: stdout, Err: stderr, ReadyTimeout: 2 * time.Minute}, nil
}

// Commands are the binaries that Up builds: the daemons and the tools a
// person tries next.
var Commands = []string{"consentd", "recordsd", "ingestd", "researchd", "patient", "clinician", "researcher", "wearable", "pharmacist", "insurer", "verifier", "hxtoken", "hxdemo", "hxdev"}

func (s *Stack) bin() string             { return filepath.Join(s.Cache, "bin") }
func (s *Stack) pidFile(n string) string { return filepath.Join(s.State, "services", n+".pid") }
func (s *Stack) logFile(n string) string { return filepath.Join(s.State, "logs", n+"d.log") }

func (s *Stack) say(format string, args ...any) { fmt.Fprintf(s.Out, "[up] "+format+"\n", args...) }

// Up starts what is not running: the network, MinIO, then each service
// (rebuilt, and restarted when its binary is newer than the running
// process), and waits until every service is SERVING. It returns the
// services it started.
func (s *Stack) Up(ctx context.Context) ([]string, error) {
	if err := s.script(ctx, "test-network/network.sh", "up"); err != nil {
		return nil, err
	}
	if err := s.script(ctx, "test-network/minio/minio.sh", "up"); err != nil {
		return nil, err
	}
	env, err := devenv.LoadDefault()
	if err != nil {
		return nil, err
	}
	if err := s.build(ctx); err != nil {
		return nil, err
	}
	var started []string
	for _, name := range env.ServiceNames() {
		svc, _ := env.Service(name)
		pid, running := s.running(name)
		if running && !s.binaryNewer(name) && s.healthy(ctx, env, svc.GRPC) {
			s.say("%s service already running (pid %d)", name, pid)
			continue
		}
		if running {
			s.say("%s service: restarting (pid %d) to run the new build", name, pid)
			s.stop(name)
		}
		if err := s.start(ctx, env, name, svc); err != nil {
			return started, err
		}
		started = append(started, name)
	}
	return started, nil
}

// script runs one of the network's scripts, its output passed through.
func (s *Stack) script(ctx context.Context, path string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Root, path), args...)
	cmd.Stdout, cmd.Stderr = s.Out, s.Err
	cmd.Env = append(os.Environ(), "HX_CACHE="+s.Cache, "HX_STATE="+s.State)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", path, strings.Join(args, " "), err)
	}
	return nil
}

func (s *Stack) build(ctx context.Context) error {
	s.say("building %s into %s", strings.Join(Commands, ", "), s.bin())
	args := []string{"build", "-o", s.bin() + "/"}
	for _, c := range Commands {
		args = append(args, "./services/cmd/"+c)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.Root, s.Out, s.Err
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// start runs one daemon detached (its own session, so it outlives this
// process), records its pid and waits until its health check says SERVING.
func (s *Stack) start(ctx context.Context, env devenv.Env, name string, svc devenv.Service) error {
	for _, dir := range []string{filepath.Dir(s.pidFile(name)), filepath.Dir(s.logFile(name))} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(s.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin(), name+"d"), "-env", env.Path)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %sd: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(s.pidFile(name), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		cmd.Process.Kill()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.say("starting the %s service (pid %d, log %s)", name, pid, s.logFile(name))
	deadline := time.Now().Add(s.ReadyTimeout)
	for !s.healthy(ctx, env, svc.GRPC) {
		select {
		case err := <-exited:
			os.Remove(s.pidFile(name))
			return fmt.Errorf("%sd exited (%v) before it was ready; its log:\n%s", name, err, tail(s.logFile(name), 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%sd was not SERVING within %v; its log:\n%s", name, s.ReadyTimeout, tail(s.logFile(name), 20))
		}
	}
	// Released, not waited for: the daemon outlives this process.
	cmd.Process.Release()
	return nil
}

// healthy reports whether the gRPC health check at addr answers SERVING,
// asked with mutual TLS as the development operator app's certificate.
func (s *Stack) healthy(ctx context.Context, env devenv.Env, addr string) bool {
	files := env.TLS("app-operator")
	tlsCfg, err := mtls.ClientConfig(files.CAFile, files.CertFile, files.KeyFile, "")
	if err != nil {
		return false
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return false
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// running is the recorded pid of a service and whether that process is
// alive.
func (s *Stack) running(name string) (int, bool) {
	raw, err := os.ReadFile(s.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, alive(pid)
}

// alive reports whether pid is a live process (a zombie is not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// binaryNewer reports whether the service's binary was built after its
// process was started (its pid file written).
func (s *Stack) binaryNewer(name string) bool {
	bin, err := os.Stat(filepath.Join(s.bin(), name+"d"))
	if err != nil {
		return false
	}
	pid, err := os.Stat(s.pidFile(name))
	return err == nil && bin.ModTime().After(pid.ModTime())
}

// stop ends a service by its recorded pid: TERM, then KILL after 15 s.
func (s *Stack) stop(name string) {
	pid, ok := s.running(name)
	defer os.Remove(s.pidFile(name))
	if !ok {
		return
	}
	fmt.Fprintf(s.Out, "[down] stopping the %s service (pid %d)\n", name, pid)
	syscall.Kill(pid, syscall.SIGTERM)
	for range 150 {
		if !alive(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(s.Out, "[down] %sd did not stop in 15 s; killing it\n", name)
	syscall.Kill(pid, syscall.SIGKILL)
}

// StopServices stops the named services (every one when names is empty).
func (s *Stack) StopServices(names ...string) {
	if len(names) == 0 {
		names = devenv.Names
	}
	for i := len(names) - 1; i >= 0; i-- {
		s.stop(names[i])
	}
}

// Down stops the services, then MinIO and the network (whose state is
// removed).
func (s *Stack) Down(ctx context.Context) error {
	s.StopServices()
	return errors.Join(s.script(ctx, "test-network/minio/minio.sh", "down"), s.script(ctx, "test-network/network.sh", "down"))
}

// Status says what runs: the network and MinIO (their scripts' words), then
// each service, its pid, addresses and health.
func (s *Stack) Status(ctx context.Context) error {
	err := errors.Join(s.script(ctx, "test-network/network.sh", "status"), s.minioStatus(ctx))
	env, lerr := devenv.LoadDefault()
	if lerr != nil {
		fmt.Fprintln(s.Out, "services: not running (the network is not up)")
		return err
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tgRPC\tHTTP/JSON\tLOG")
	for _, name := range env.ServiceNames() {
		svc, _ := env.Service(name)
		state := "not running"
		if pid, ok := s.running(name); ok {
			state = fmt.Sprintf("running (pid %d), ", pid)
			if s.healthy(ctx, env, svc.GRPC) {
				state += "SERVING"
			} else {
				state += "NOT SERVING"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\thttps://%s\t%s\n", name, state, svc.GRPC, svc.HTTP, s.logFile(name))
	}
	tw.Flush()
	return err
}

// minioStatus runs minio.sh status, whose exit code 3 means "not running"
// (no error here).
func (s *Stack) minioStatus(ctx context.Context) error {
	err := s.script(ctx, "test-network/minio/minio.sh", "status")
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		return nil
	}
	return err
}

// Welcome prints what runs where and the commands to try next.
func (s *Stack) Welcome() error {
	env, err := devenv.LoadDefault()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nThe exchange is up:")
	fmt.Fprintln(tw, "SERVICE\tgRPC (mutual TLS)\tHTTP/JSON (TLS)\tLOG")
	for _, name := range env.ServiceNames() {
		svc, _ := env.Service(name)
		fmt.Fprintf(tw, "%s\t%s\thttps://%s\t%s\n", name, svc.GRPC, svc.HTTP, s.logFile(name))
	}
	tw.Flush()
	fmt.Fprintf(s.Out, `
Fabric network, MinIO: make status. Services' CA: %s
Try it (the CLIs find the services and the CA on their own):
  export PATH=%s:$PATH
  export HX_TOKEN=$(hxtoken issue --sub pat-me --role patient) HX_PATIENT_KEY=$PWD/.cache/me.json
  patient keygen --id pat-me && patient register
  patient grant --to user:ProvidersMSP/dr-alice --categories labs --purposes treatment --for 24h
  patient consents
  HX_TOKEN=$(hxtoken issue --sub dr-alice --role clinician --org ProvidersMSP) clinician --help
Stop everything: make down.
`, env.ServicesTLS.CA, s.bin())
	return nil
}

// tail is the last n lines of a file, for an error.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Exports are the environment variables that point a script at the running
// exchange: the services' URLs (which the CLIs read), the ingest service's
// gRPC address and the services' CA.
func Exports() (map[string]string, error) {
	env, err := devenv.LoadDefault()
	if err != nil {
		return nil, err
	}
	out := map[string]string{"HX_CA": env.ServicesTLS.CA, "HX_STATE": filepath.Dir(env.Path)}
	for _, name := range env.ServiceNames() {
		out["HX_"+strings.ToUpper(name)+"_URL"] = env.URL(name)
		out["HX_"+strings.ToUpper(name)+"_GRPC"] = env.Services[name].GRPC
	}
	return out, nil
}

// With runs cmd with the exchange up and its Exports in the environment;
// the services it had to start are stopped again afterwards (the network
// and MinIO are left as Up leaves them).
func (s *Stack) With(ctx context.Context, cmd []string) error {
	started, err := s.Up(ctx)
	defer s.StopServices(started...)
	if err != nil {
		return err
	}
	exports, err := Exports()
	if err != nil {
		return err
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, s.Out, s.Err
	c.Env = os.Environ()
	for k, v := range exports {
		c.Env = append(c.Env, k+"="+v)
	}
	return c.Run()
}
