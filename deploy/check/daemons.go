package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Daemons are the exchange's four services (services/cmd/<name>d), in
// the order they start.
var Daemons = []string{"consent", "records", "ingest", "research"}

// daemon is the container that runs one of the Daemons: the one whose
// environment sets HX_<NAME>_GRPC.
type daemon struct {
	name string
	w    Workload
	c    corev1.Container
}

// flag is the value the container gives the daemon's flag through its
// HX_<NAME>_<FLAG> variable ("" if unset).
func (d daemon) flag(name string) string {
	key := envName(d.name, name)
	for _, e := range d.c.Env {
		if e.Name == key {
			return e.Value
		}
	}
	return ""
}

func (d daemon) env(name string) string {
	for _, e := range d.c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func (d daemon) String() string { return fmt.Sprintf("%s container %s", d.w, d.c.Name) }

// envName is a daemon flag's variable, as services/platform/daemon names
// it.
func envName(service, flag string) string {
	return "HX_" + strings.ToUpper(strings.ReplaceAll(service+"_"+flag, "-", "_"))
}

func findDaemon(s *Set, name string) (daemon, bool) {
	for _, w := range s.Workloads() {
		for _, c := range w.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == envName(name, "grpc") {
					return daemon{name: name, w: w, c: c}, true
				}
			}
		}
	}
	return daemon{}, false
}

func daemons(s *Set) ([]daemon, []error) {
	var out []daemon
	var errs []error
	for _, name := range Daemons {
		d, ok := findDaemon(s, name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no container runs the %s service (none sets %s)", s.Name, name, envName(name, "grpc")))
			continue
		}
		out = append(out, d)
	}
	return out, errs
}

// Ports checks the four services' ports against ports (test-network's
// ports.sh, by variable): each listens for gRPC and HTTP on every interface
// at its port (HX_<NAME>_GRPC, HX_<NAME>_HTTP), declares those ports as
// "grpc" and "http", and its Service of the same name serves them; no
// service is held to loopback (-loopback-only) or given the development
// network's description (-env); and no gRPC probe is made on a port that
// takes mutual TLS only.
func Ports(s *Set, ports map[string]int) []error {
	ds, errs := daemons(s)
	for _, d := range ds {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", s.Name, d, fmt.Sprintf(format, args...)))
		}
		svc := s.Service(d.name)
		if svc == nil {
			fail("no Service named %s", d.name)
		}
		for _, kind := range []string{"grpc", "http"} {
			key := "HX_" + strings.ToUpper(d.name) + "_" + strings.ToUpper(kind) + "_PORT"
			want, ok := ports[key]
			if !ok {
				fail("ports.sh has no %s", key)
				continue
			}
			addr := d.flag(kind)
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				fail("%s=%q: %v", envName(d.name, kind), addr, err)
			} else {
				if port != strconv.Itoa(want) {
					fail("%s=%s listens on port %s, not %d (%s)", envName(d.name, kind), addr, port, want, key)
				}
				if host == "localhost" || (net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
					fail("%s=%s listens on loopback only: no other pod reaches it", envName(d.name, kind), addr)
				}
			}
			cp, ok := containerPort(d.c, intstr.FromString(kind))
			switch {
			case !ok:
				fail("no container port named %s", kind)
			case int(cp.ContainerPort) != want:
				fail("container port %s is %d, not %d (%s)", kind, cp.ContainerPort, want, key)
			}
			if svc != nil {
				found := false
				for _, sp := range svc.Spec.Ports {
					if sp.Name == kind {
						found = true
						if int(sp.Port) != want {
							fail("Service %s port %s is %d, not %d (%s)", svc.Name, kind, sp.Port, want, key)
						}
					}
				}
				if !found {
					fail("Service %s has no port named %s", svc.Name, kind)
				}
			}
		}
		if v := d.flag("loopback-only"); v == "true" || v == "1" || hasArg(d.c.Args, "loopback-only") {
			fail("-loopback-only is set: the service would refuse every address off loopback")
		}
		if d.flag("env") != "" || hasArg(d.c.Args, "env") {
			fail("-env is set: the service would take the development network's settings")
		}
		grpcPort, _ := containerPort(d.c, intstr.FromString("grpc"))
		for _, p := range []*corev1.Probe{d.c.LivenessProbe, d.c.ReadinessProbe, d.c.StartupProbe} {
			if p != nil && p.GRPC != nil && p.GRPC.Port == grpcPort.ContainerPort {
				fail("a grpc probe on port %d, which takes mutual TLS only: the kubelet has no client certificate, so the probe always fails", p.GRPC.Port)
			}
		}
	}
	return errs
}

func hasArg(args []string, name string) bool {
	for _, a := range args {
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// Addresses checks every address a service is configured to dial: the
// consent service's instances (HX_<NAME>_CONSENT, one entry per consent
// replica), the collector (HX_<NAME>_OTLP_ENDPOINT), the gateway peer of
// each organisation it acts as (the ledger connection's peerEndpoint), and
// the object storage with its failover nodes (the store description). Each
// must name a Service, or a StatefulSet pod by its governing Service, of
// this set that serves that port, and the network policies must let the
// service's pods connect to it.
func Addresses(s *Set) []error {
	ds, errs := daemons(s)
	for _, d := range ds {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", s.Name, d, fmt.Sprintf(format, args...)))
		}
		dial := func(what, addr string) {
			to, port, err := resolve(s, d.w.Namespace, addr)
			if err != nil {
				fail("%s %s: %v", what, addr, err)
				return
			}
			if !Admits(s, d.w, to, port) {
				fail("%s %s: the network policies do not let the pods of %s reach %s on port %s", what, addr, d.w.Name, to, port.Name)
			}
		}
		if list := d.flag("consent"); list != "" {
			consent, ok := s.Workload(decisionService)
			var named []string
			for _, a := range strings.Split(list, ",") {
				if a = strings.TrimSpace(a); a == "" {
					continue
				}
				dial("consent instance", a)
				host, _, _ := net.SplitHostPort(a)
				named = append(named, host)
			}
			if ok && consent.ServiceName != "" {
				for i := range int(consent.Replicas) {
					want := fmt.Sprintf("%s-%d.%s", consent.Name, i, consent.ServiceName)
					if !slices.Contains(named, want) {
						fail("%s lists no %s: every consent replica should take decisions", envName(d.name, "consent"), want)
					}
				}
			}
		}
		if ep := d.flag("otlp-endpoint"); ep != "" {
			dial("collector", ep)
		} else {
			fail("%s is not set: no traces leave the service", envName(d.name, "otlp-endpoint"))
		}
		if nf, err := ledgerConnection(s, d); err != nil {
			fail("%v", err)
		} else {
			for _, org := range strings.Split(d.flag("ledger-org"), ",") {
				o, ok := nf.org(strings.TrimSpace(org))
				if !ok {
					fail("ledger organisation %q is not in the ledger connection", org)
					continue
				}
				dial("ledger gateway of "+o.Name, o.PeerEndpoint)
			}
		}
		if d.flag("store-config") != "" {
			if sf, err := storeConfig(s, d); err != nil {
				fail("%v", err)
			} else {
				if !sf.UseTLS {
					fail("the store description does not set useTLS: the service refuses plain http off loopback")
				}
				for _, ep := range append([]string{sf.Endpoint}, sf.Failover...) {
					dial("object storage", ep)
				}
			}
		}
	}
	return errs
}

// resolve finds what addr (host:port) names in namespace: a Service by its
// name, or a StatefulSet's pod as <pod>.<governing Service>; and the
// container port it reaches.
func resolve(s *Set, namespace, addr string) (Workload, corev1.ContainerPort, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return Workload{}, corev1.ContainerPort{}, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return Workload{}, corev1.ContainerPort{}, fmt.Errorf("port %q is not a number", portStr)
	}
	pod, svcName, isPod := strings.Cut(host, ".")
	if !isPod {
		svcName = host
	}
	if strings.Contains(svcName, ".") {
		return Workload{}, corev1.ContainerPort{}, fmt.Errorf("%s is not a name of this namespace (a Service, or <pod>.<Service>)", host)
	}
	svc := s.Service(svcName)
	if svc == nil || svc.Namespace != namespace {
		return Workload{}, corev1.ContainerPort{}, fmt.Errorf("no Service %s", svcName)
	}
	if isPod {
		for _, w := range s.Workloads() {
			if w.Kind != "StatefulSet" || w.ServiceName != svcName || w.Namespace != namespace {
				continue
			}
			ordinal, ok := strings.CutPrefix(pod, w.Name+"-")
			n, err := strconv.Atoi(ordinal)
			if !ok || err != nil || strconv.Itoa(n) != ordinal {
				continue
			}
			if n >= int(w.Replicas) {
				return Workload{}, corev1.ContainerPort{}, fmt.Errorf("%s has %d replicas: there is no pod %s", w, w.Replicas, pod)
			}
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				return Workload{}, corev1.ContainerPort{}, fmt.Errorf("Service %s is not headless: its pods have no names of their own", svcName)
			}
			for _, c := range w.Template.Spec.Containers {
				if cp, ok := containerPort(c, intstr.FromInt32(int32(port))); ok {
					return w, cp, nil
				}
			}
			return Workload{}, corev1.ContainerPort{}, fmt.Errorf("%s's containers do not declare port %d", w, port)
		}
		return Workload{}, corev1.ContainerPort{}, fmt.Errorf("no StatefulSet governed by Service %s has a pod %s", svcName, pod)
	}
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		for _, w := range selectedWorkloads(s, namespace, labels.SelectorFromSet(svc.Spec.Selector)) {
			for _, c := range w.Template.Spec.Containers {
				if cp, ok := containerPort(c, target); ok {
					return w, cp, nil
				}
			}
		}
		return Workload{}, corev1.ContainerPort{}, fmt.Errorf("Service %s port %d reaches no container port", svcName, port)
	}
	return Workload{}, corev1.ContainerPort{}, fmt.Errorf("Service %s has no port %d", svcName, port)
}

// networkFile mirrors the ledger connection that services/platform/ledger
// reads (its networkFile and Org), every field of it.
type networkFile struct {
	Channel   string       `json:"channel"`
	Chaincode string       `json:"chaincode"`
	Orgs      []networkOrg `json:"orgs"`
}

type networkOrg struct {
	Name         string `json:"name"`
	MSPID        string `json:"mspId"`
	PeerMSPID    string `json:"peerMspId"`
	PeerEndpoint string `json:"peerEndpoint"`
	PeerHostName string `json:"peerHostName"`
	TLSRootCert  string `json:"tlsRootCert"`
	UserCert     string `json:"userCert"`
	UserKey      string `json:"userKey"`
}

func (n networkFile) org(name string) (networkOrg, bool) {
	for _, o := range n.Orgs {
		if o.Name == name {
			return o, true
		}
	}
	return networkOrg{}, false
}

// storeFile mirrors the store description that
// services/platform/objectstore reads (its clientFile).
type storeFile struct {
	Endpoint        string   `json:"endpoint"`
	Failover        []string `json:"failover"`
	UseTLS          bool     `json:"useTLS"`
	CredentialsFile string   `json:"credentialsFile"`
	AccessKey       string   `json:"accessKey"`
	SecretKey       string   `json:"secretKey"`
}

func ledgerConnection(s *Set, d daemon) (networkFile, error) {
	var nf networkFile
	err := readMountedJSON(s, d, envName(d.name, "ledger-connection"), d.flag("ledger-connection"), &nf)
	return nf, err
}

func storeConfig(s *Set, d daemon) (storeFile, error) {
	var sf storeFile
	err := readMountedJSON(s, d, envName(d.name, "store-config"), d.flag("store-config"), &sf)
	return sf, err
}

// readMountedJSON decodes, refusing unknown fields, the file at p as the
// daemon's container sees it: a key of a ConfigMap of the set.
func readMountedJSON(s *Set, d daemon, what, p string, v any) error {
	if p == "" {
		return fmt.Errorf("%s is not set", what)
	}
	src, err := mounted(d.w, d.c, p)
	if err != nil {
		return fmt.Errorf("%s=%s: %w", what, p, err)
	}
	if src.kind != "configMap" {
		return fmt.Errorf("%s=%s: is in a %s, not a ConfigMap of the manifests", what, p, src.kind)
	}
	cm := s.ConfigMap(src.name)
	if cm == nil {
		return fmt.Errorf("%s=%s: no ConfigMap %s", what, p, src.name)
	}
	raw, ok := cm.Data[src.key]
	if !ok {
		return fmt.Errorf("%s=%s: ConfigMap %s has no key %s", what, p, src.name, src.key)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s=%s: %w", what, p, err)
	}
	return nil
}

// source is where a path in a container comes from.
type source struct {
	// kind is secret, configMap, projected, emptyDir, persistentVolumeClaim
	// (a claim or a StatefulSet's claim template) or other.
	kind string
	// name is the Secret's or ConfigMap's name; key the key that holds
	// the file (for a file of a Secret or ConfigMap).
	name, key string
	readOnly  bool
	// optional says the Secret or ConfigMap may be missing.
	optional bool
}

// mounted says where the file or folder at p comes from in container c of
// w: the volume mounted at the longest prefix of p and, for a Secret or a
// ConfigMap, the key that p is.
func mounted(w Workload, c corev1.Container, p string) (source, error) {
	p = path.Clean(p)
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if (p == mp || strings.HasPrefix(p, mp+"/")) && (best == nil || len(mp) > len(path.Clean(best.MountPath))) {
			best = &c.VolumeMounts[i]
		}
	}
	if best == nil {
		return source{}, fmt.Errorf("no volume is mounted there")
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, path.Clean(best.MountPath)), "/")
	if best.SubPath != "" {
		rel = path.Join(best.SubPath, rel)
	}
	for _, claim := range w.Claims {
		if claim.Name == best.Name {
			return source{kind: "persistentVolumeClaim", readOnly: best.ReadOnly}, nil
		}
	}
	for _, v := range w.Template.Spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		src := source{readOnly: best.ReadOnly}
		switch {
		case v.Secret != nil:
			src.kind, src.name, src.optional = "secret", v.Secret.SecretName, v.Secret.Optional != nil && *v.Secret.Optional
			src.key, _ = keyAt(v.Secret.Items, rel)
		case v.ConfigMap != nil:
			src.kind, src.name, src.optional = "configMap", v.ConfigMap.Name, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional
			src.key, _ = keyAt(v.ConfigMap.Items, rel)
		case v.Projected != nil:
			src.kind = "projected"
			for _, ps := range v.Projected.Sources {
				if ps.Secret != nil {
					if key, ok := keyAt(ps.Secret.Items, rel); ok && (len(ps.Secret.Items) > 0) {
						return source{kind: "secret", name: ps.Secret.Name, key: key, readOnly: true,
							optional: ps.Secret.Optional != nil && *ps.Secret.Optional}, nil
					}
				}
				if ps.ConfigMap != nil {
					if key, ok := keyAt(ps.ConfigMap.Items, rel); ok && (len(ps.ConfigMap.Items) > 0) {
						return source{kind: "configMap", name: ps.ConfigMap.Name, key: key, readOnly: true}, nil
					}
				}
			}
		case v.EmptyDir != nil:
			src.kind = "emptyDir"
		case v.PersistentVolumeClaim != nil:
			src.kind, src.name = "persistentVolumeClaim", v.PersistentVolumeClaim.ClaimName
		default:
			src.kind = "other"
		}
		if (src.kind == "secret" || src.kind == "configMap") && src.key == "" {
			return src, fmt.Errorf("%s %s projects no file %s", src.kind, src.name, rel)
		}
		if src.kind == "projected" {
			return src, fmt.Errorf("no source of the projected volume %s is the file %s", v.Name, rel)
		}
		return src, nil
	}
	return source{}, fmt.Errorf("volume %s is not a volume of the pod", best.Name)
}

// keyAt is the key that the file rel of a Secret or ConfigMap volume holds:
// the item whose path it is, or, with no items, rel itself (every key is a
// file at the top).
func keyAt(items []corev1.KeyToPath, rel string) (string, bool) {
	if len(items) == 0 {
		if rel == "" || strings.Contains(rel, "/") {
			return "", false
		}
		return rel, true
	}
	for _, it := range items {
		if path.Clean(it.Path) == rel {
			return it.Key, true
		}
	}
	return "", false
}

// Files checks every file and folder a service is configured with: its
// certificate, key and CA, the ledger connection and, for each
// organisation it acts as, that organisation's TLS root and client
// identity, the store description and its credentials, the vault's
// key-encryption key, the CAs it trusts (SSL_CERT_FILE,
// OTEL_EXPORTER_OTLP_CERTIFICATE): each is a file that a volume of the pod
// holds (a Secret's or ConfigMap's key that the volume projects, or a file
// in an emptyDir or claim). Its state, key and spool folders lie on a
// writable volume (an emptyDir or a claim, not mounted read-only).
func Files(s *Set) []error {
	ds, errs := daemons(s)
	for _, d := range ds {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", s.Name, d, fmt.Sprintf(format, args...)))
		}
		file := func(what, p string) {
			if p == "" {
				return
			}
			src, err := mounted(d.w, d.c, p)
			if err != nil {
				fail("%s %s is not mounted: %v", what, p, err)
				return
			}
			if src.kind == "configMap" {
				if cm := s.ConfigMap(src.name); cm == nil {
					fail("%s %s: no ConfigMap %s", what, p, src.name)
				} else if _, ok := cm.Data[src.key]; !ok {
					fail("%s %s: ConfigMap %s has no key %s", what, p, src.name, src.key)
				}
			}
		}
		for _, f := range []string{"tls-cert", "tls-key", "tls-ca", "ledger-connection", "store-config", "kek-file"} {
			file(envName(d.name, f), d.flag(f))
		}
		for _, f := range []string{"SSL_CERT_FILE", "OTEL_EXPORTER_OTLP_CERTIFICATE"} {
			file(f, d.env(f))
		}
		for _, f := range []string{"tls-cert", "tls-key", "tls-ca", "ledger-connection"} {
			if d.flag(f) == "" {
				fail("%s is not set", envName(d.name, f))
			}
		}
		if nf, err := ledgerConnection(s, d); err == nil {
			for _, org := range strings.Split(d.flag("ledger-org"), ",") {
				if o, ok := nf.org(strings.TrimSpace(org)); ok {
					file(o.Name+"'s TLS root", o.TLSRootCert)
					file(o.Name+"'s certificate", o.UserCert)
					file(o.Name+"'s key", o.UserKey)
				}
			}
		}
		if d.flag("store-config") != "" {
			if sf, err := storeConfig(s, d); err == nil {
				file("the store credentials", sf.CredentialsFile)
			}
		}
		for _, f := range []string{"state", "key-dir", "temp-dir"} {
			p := d.flag(f)
			if p == "" {
				continue
			}
			src, err := mounted(d.w, d.c, p)
			switch {
			case err != nil:
				fail("%s=%s is not mounted: %v", envName(d.name, f), p, err)
			case src.kind != "emptyDir" && src.kind != "persistentVolumeClaim":
				fail("%s=%s is on a %s volume, not a writable one", envName(d.name, f), p, src.kind)
			case src.readOnly:
				fail("%s=%s is mounted read-only", envName(d.name, f), p)
			}
		}
	}
	return errs
}
