package check

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The prod overlay and the Secrets' template, rendered once; each fault
// below is made on a copy.
var (
	prodOnce         sync.Once
	prodSet, tmplSet *Set
	prodErr          error
)

func prod(t *testing.T) (*Set, *Set, map[string]int) {
	t.Helper()
	prodOnce.Do(func() {
		var errs []error
		var err error
		prodSet, err = Render(filepath.Join(k8sDir, "overlays", "prod"))
		errs = append(errs, err)
		tmplSet, err = Render(filepath.Join(k8sDir, "secrets"))
		errs = append(errs, err)
		prodErr = errors.Join(errs...)
	})
	if prodErr != nil {
		t.Fatal(prodErr)
	}
	return prodSet.DeepCopy(), tmplSet.DeepCopy(), ports(t)
}

// A fault made on the prod overlay, the check that must find it, and what
// its error must say.
type fault struct {
	check string
	make  func(t *testing.T, s, tmpl *Set)
	want  string
}

func TestChecksFindFaults(t *testing.T) {
	faults := map[string]fault{
		"a container without limits": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "records", "recordsd").Resources.Limits = nil
		}, "no cpu limit"},
		"a limit below its request": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "records", "recordsd").Resources.Limits[corev1.ResourceMemory] = mustQuantity("1Mi")
		}, "memory request 1Gi is above its limit 1Mi"},
		"an init container without requests": {"containers", func(t *testing.T, s, _ *Set) {
			initContainer(t, s, "research", "vault-kek").Resources.Requests = nil
		}, "container vault-kek: no cpu request"},
		"no liveness probe": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "consent", "consentd").LivenessProbe = nil
		}, "no liveness probe"},
		"no readiness probe": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "orderer", "orderer").ReadinessProbe = nil
		}, "no readiness probe"},
		"a probe on a port the container lacks": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "minio", "minio").LivenessProbe.HTTPGet.Port = intstr.FromString("apii")
		}, "port apii is not a port of the container"},
		"root user": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "providers-peer", "peer").SecurityContext.RunAsUser = ptr(int64(0))
		}, "runAsUser is 0"},
		"runAsNonRoot unset": {"containers", func(t *testing.T, s, _ *Set) {
			pod(t, s, "otel-collector").SecurityContext.RunAsNonRoot = nil
			ctr(t, s, "otel-collector", "otel-collector").SecurityContext.RunAsNonRoot = nil
		}, "may run as root"},
		"a writable root filesystem": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "ingest", "ingestd").SecurityContext.ReadOnlyRootFilesystem = ptr(false)
		}, "root filesystem is writable"},
		"privilege escalation": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "research-chaincode", "chaincode").SecurityContext.AllowPrivilegeEscalation = nil
		}, "may escalate privileges"},
		"capabilities kept": {"containers", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "records", "recordsd").SecurityContext.Capabilities.Drop = nil
		}, "keeps capabilities"},
		"no seccomp profile": {"containers", func(t *testing.T, s, _ *Set) {
			pod(t, s, "records").SecurityContext.SeccompProfile = nil
		}, "no seccomp profile"},
		"a service account token": {"containers", func(t *testing.T, s, _ *Set) {
			pod(t, s, "research").AutomountServiceAccountToken = nil
		}, "mounts a service account token"},
		"an image by tag": {"images", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "research-peer", "peer").Image = "hyperledger/fabric-peer:2.5"
		}, `image "hyperledger/fabric-peer:2.5" is not pinned by digest`},
		"an image by a short digest": {"images", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "consent", "consentd").Image = "consentd@sha256:1234"
		}, "is not pinned by digest"},
		"a Service that selects nothing": {"services", func(t *testing.T, s, _ *Set) {
			service(t, s, "minio").Spec.Selector = map[string]string{nameLabel: "minio-typo"}
		}, "Service minio: selects no pod"},
		"a Service without a selector": {"services", func(t *testing.T, s, _ *Set) {
			service(t, s, "otel-collector").Spec.Selector = nil
		}, "has no selector"},
		"a Service port targeting no container port": {"services", func(t *testing.T, s, _ *Set) {
			service(t, s, "consent").Spec.Ports[0].TargetPort = intstr.FromString("grcp")
		}, "port grpc targets grcp"},
		"a port name too long": {"services", func(t *testing.T, s, _ *Set) {
			service(t, s, "orderer").Spec.Ports[0].Name = "general-listener-port"
		}, `port "general-listener-port"`},
		"a workload without a budget": {"budgets", func(t *testing.T, s, _ *Set) {
			remove(t, s, "PodDisruptionBudget", "records")
		}, "Deployment records has no pod disruption budget"},
		"a budget that blocks every eviction": {"budgets", func(t *testing.T, s, _ *Set) {
			b := budget(t, s, "consent")
			b.Spec.MaxUnavailable, b.Spec.MinAvailable = nil, ptr(intstr.FromInt32(2))
		}, "lets no pod of StatefulSet consent (2 replicas) be evicted"},
		"a budget that selects nothing": {"budgets", func(t *testing.T, s, _ *Set) {
			budget(t, s, "minio").Spec.Selector.MatchLabels[nameLabel] = "minion"
		}, "PodDisruptionBudget minio selects no pod"},
		"no default deny": {"default deny", func(t *testing.T, s, _ *Set) {
			remove(t, s, "NetworkPolicy", "default-deny-ingress")
		}, "no default-deny ingress policy"},
		"the decision service open to every source": {"decision service", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[0].From = nil
		}, "admits every source to the decision service"},
		"the decision service open to another service": {"decision service", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[0].From[0].PodSelector.MatchExpressions[0].Values = []string{"records", "ingest", "research", "minio"}
		}, "not only [records ingest research]"},
		"the decision service open by another label": {"decision service", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[0].From = append(policy(t, s, "consent").Spec.Ingress[0].From,
				networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{componentLabel: "service"}}})
		}, "which does not limit app.kubernetes.io/name"},
		"the decision service open to another namespace": {"decision service", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[0].From[0].NamespaceSelector = &metav1.LabelSelector{}
		}, "pods of other namespaces"},
		"the decision service open on every port": {"decision service", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[1].Ports = nil
		}, "rule 1 admits every source"},
		"the decision service not isolated": {"decision service", func(t *testing.T, s, _ *Set) {
			remove(t, s, "NetworkPolicy", "consent")
			remove(t, s, "NetworkPolicy", "default-deny-ingress")
		}, "no network policy isolates StatefulSet consent's pods"},
		"a gRPC port other than ports.sh's": {"ports", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "consent", "consentd"), "HX_CONSENT_GRPC", "0.0.0.0:27999")
		}, "listens on port 27999, not 27101 (HX_CONSENT_GRPC_PORT)"},
		"a container port other than ports.sh's": {"ports", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "records", "recordsd").Ports[1].ContainerPort = 27199
		}, "container port http is 27199, not 27112"},
		"a Service port other than ports.sh's": {"ports", func(t *testing.T, s, _ *Set) {
			service(t, s, "research").Spec.Ports[0].Port = 443
		}, "Service research port grpc is 443, not 27131"},
		"a service on loopback": {"ports", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "ingest", "ingestd"), "HX_INGEST_HTTP", "127.0.0.1:27122")
		}, "listens on loopback only"},
		"-loopback-only": {"ports", func(t *testing.T, s, _ *Set) {
			c := ctr(t, s, "research", "researchd")
			c.Args = append(c.Args, "-loopback-only")
		}, "-loopback-only is set"},
		"a grpc probe on the mutual-TLS port": {"ports", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "consent", "consentd").LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 27101}}}
		}, "takes mutual TLS only"},
		"a consent replica left out of the list": {"addresses", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "records", "recordsd"), "HX_RECORDS_CONSENT", "consent-0.consent-pods:27101")
		}, "HX_RECORDS_CONSENT lists no consent-1.consent-pods"},
		"a consent instance that does not exist": {"addresses", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "ingest", "ingestd"), "HX_INGEST_CONSENT", "consent-0.consent-pods:27101,consent-1.consent-pods:27101,consent-2.consent-pods:27101")
		}, "there is no pod consent-2"},
		"the collector at a port it does not serve": {"addresses", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "consent", "consentd"), "HX_CONSENT_OTLP_ENDPOINT", "otel-collector:4318")
		}, "Service otel-collector has no port 4318"},
		"a policy that shuts an enforcement service out": {"addresses", func(t *testing.T, s, _ *Set) {
			policy(t, s, "consent").Spec.Ingress[0].From[0].PodSelector.MatchExpressions[0].Values = []string{"records", "research"}
		}, "do not let the pods of ingest reach StatefulSet consent on port grpc"},
		"a policy that shuts a service out of MinIO": {"addresses", func(t *testing.T, s, _ *Set) {
			policy(t, s, "minio").Spec.Ingress[0].From[0].PodSelector.MatchExpressions[0].Values = []string{"ingest", "research"}
		}, "do not let the pods of records reach StatefulSet minio"},
		"a ledger gateway that does not exist": {"addresses", func(t *testing.T, s, _ *Set) {
			cm := configMap(t, s, "ledger-connection")
			cm.Data["network.json"] = strings.ReplaceAll(cm.Data["network.json"], `"research-gateway:7051"`, `"research-gw:7051"`)
		}, "no Service research-gw"},
		"a ledger connection with an unknown field": {"addresses", func(t *testing.T, s, _ *Set) {
			cm := configMap(t, s, "ledger-connection")
			cm.Data["network.json"] = strings.Replace(cm.Data["network.json"], `"channel"`, `"chanel"`, 1)
		}, `unknown field "chanel"`},
		"a store without TLS": {"addresses", func(t *testing.T, s, _ *Set) {
			cm := configMap(t, s, "store-config")
			cm.Data["store.json"] = strings.Replace(cm.Data["store.json"], `"useTLS": true`, `"useTLS": false`, 1)
		}, "does not set useTLS"},
		"a file that is not mounted": {"files", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "records", "recordsd"), "HX_RECORDS_TLS_KEY", "/etc/hx/tlz/tls.key")
		}, "HX_RECORDS_TLS_KEY /etc/hx/tlz/tls.key is not mounted"},
		"an organisation's key not projected": {"files", func(t *testing.T, s, _ *Set) {
			v := volume(t, s, "records", "ledger-identities")
			v.Secret.Items = v.Secret.Items[:3] // providers.crt, providers.key, stmarys.crt
		}, "stmarys's key /etc/hx/ledger/identities/stmarys.key is not mounted"},
		"state on a read-only mount": {"files", func(t *testing.T, s, _ *Set) {
			c := ctr(t, s, "ingest", "ingestd")
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].Name == "state" {
					c.VolumeMounts[i].ReadOnly = true
				}
			}
		}, "HX_INGEST_STATE=/var/lib/hx/state/ingest is mounted read-only"},
		"a Secret in the manifests": {"secrets", func(t *testing.T, s, _ *Set) {
			s.Objects = append(s.Objects, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-kek", Namespace: "health-exchange"}})
		}, "Secret vault-kek is in the manifests"},
		"key material in the template": {"secrets", func(t *testing.T, _, tmpl *Set) {
			for _, sec := range tmpl.Secrets() {
				if sec.Name == "vault-kek" {
					sec.StringData["kek"] = "0123456789abcdef0123456789abcdef"
				}
			}
		}, "Secret vault-kek: kek is not empty"},
		"a Secret the template lacks": {"secrets", func(t *testing.T, s, _ *Set) {
			volume(t, s, "research", "tls").Secret.SecretName = "research-tlz"
		}, "reads Secret research-tlz: not in"},
		"a Secret key the template lacks": {"secrets", func(t *testing.T, s, _ *Set) {
			volume(t, s, "records", "trust").Secret.Items[0].Key = "bundle.pem"
		}, "does not list key bundle.pem"},
		"a ConfigMap the manifests lack": {"secrets", func(t *testing.T, s, _ *Set) {
			ctr(t, s, "providers-chaincode", "chaincode").Env[0].ValueFrom.ConfigMapKeyRef.Name = "chaincode-ids"
		}, "reads ConfigMap chaincode-ids: not in the manifests"},
		"an orderer without its crypto": {"fabric", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "orderer").Spec.Replicas = ptr(int32(4))
		}, "mounts no Secret orderer-3-crypto"},
		"a gateway over another organisation's peers": {"fabric", func(t *testing.T, s, _ *Set) {
			delete(service(t, s, "providers-gateway").Spec.Selector, orgLabel)
		}, "gateway Service providers-gateway also selects StatefulSet research-peer"},
		"a peer naming another organisation's chaincode": {"fabric", func(t *testing.T, s, _ *Set) {
			setEnv(t, ctr(t, s, "research-peer", "peer"), "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG", `{"peername":"providers"}`)
		}, `ccaas peername ({"peername":"providers"}) is not "research"`},
		"a chaincode server its peers may not reach": {"fabric", func(t *testing.T, s, _ *Set) {
			policy(t, s, "research-chaincode").Spec.Ingress[0].From[0].PodSelector.MatchLabels[orgLabel] = "providers"
		}, "do not let StatefulSet research-peer reach Deployment research-chaincode"},
		"MinIO's server list and replicas disagree": {"minio", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "minio").Spec.Replicas = ptr(int32(6))
		}, "names 4 nodes ({0...3}) but the StatefulSet has 6 replicas"},
		"MinIO's nodes hidden until ready": {"minio", func(t *testing.T, s, _ *Set) {
			service(t, s, "minio-hl").Spec.PublishNotReadyAddresses = false
		}, "must be headless and publish not-ready addresses"},
		"a namespace that does not enforce the standard": {"namespace", func(t *testing.T, s, _ *Set) {
			s.Namespaces()[0].Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		}, "does not enforce the restricted pod security standard"},
		"a service of one replica in production": {"production", func(t *testing.T, s, _ *Set) {
			deployment(t, s, "records").Spec.Replicas = ptr(int32(1))
		}, "Deployment records has 1 replicas, want 2 or more"},
		"a stateful service of one replica in production": {"production", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "research").Spec.Replicas = ptr(int32(1))
		}, "StatefulSet research has 1 replicas, want 2 or more"},
		"one peer in an organisation in production": {"production", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "providers-peer").Spec.Replicas = ptr(int32(1))
		}, "StatefulSet providers-peer has 1 replicas, want 2 or more (two peers per peer organisation)"},
		"two orderers in production": {"production", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "orderer").Spec.Replicas = ptr(int32(2))
		}, "StatefulSet orderer has 2 replicas, want 3 or more"},
		"three MinIO nodes in production": {"production", func(t *testing.T, s, _ *Set) {
			statefulSet(t, s, "minio").Spec.Replicas = ptr(int32(3))
		}, "StatefulSet minio has 3 replicas, want 4 or more"},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			s, tmpl, p := prod(t)
			checks := append(Common(p, tmpl), Check{"production", Production})
			var c Check
			for _, cc := range checks {
				if cc.Name == f.check {
					c = cc
				}
			}
			if c.Run == nil {
				t.Fatalf("no check %q", f.check)
			}
			if errs := c.Run(s); len(errs) != 0 {
				t.Fatalf("before the fault, check %s already fails: %v", f.check, errs)
			}
			// The Secrets check reads the template through its closure:
			// rebuild the checks after the fault.
			f.make(t, s, tmpl)
			for _, cc := range append(Common(p, tmpl), Check{"production", Production}) {
				if cc.Name == f.check {
					c = cc
				}
			}
			errs := c.Run(s)
			for _, err := range errs {
				if strings.Contains(err.Error(), f.want) {
					t.Log(err)
					return
				}
			}
			t.Errorf("check %s did not report %q; it reported %d problems: %v", f.check, f.want, len(errs), errors.Join(errs...))
		})
	}
}

// Decoding is strict: a field the API type lacks, or a field given twice,
// is an error; the same object without them decodes.
func TestDecodeIsStrict(t *testing.T) {
	tests := map[string]struct {
		json    string
		wantErr string
	}{
		"a known object": {`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"selector":{"x":"y"}}}`, ""},
		"an unknown field": {`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"selectr":{"x":"y"}}}`,
			`unknown field "spec.selectr"`},
		"a field twice": {`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"selector":{"x":"y"},"selector":{"x":"z"}}}`,
			`duplicate field "spec.selector"`},
		"a misspelt probe field": {`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a"},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"c","livenesProbe":{}}]}}}}`,
			`unknown field "spec.template.spec.containers[0].livenesProbe"`},
		"an unknown kind": {`{"apiVersion":"example.org/v1","kind":"Tenant","metadata":{"name":"a"}}`, "no kind"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.json))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Decode error = %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

// The placeholder check finds the all-zero digests and package id, and
// passes a real-looking digest.
func TestPlaceholders(t *testing.T) {
	s, _, _ := prod(t)
	if errs := Placeholders(s); len(errs) == 0 {
		t.Fatal("the shipped overlay has placeholder digests, but Placeholders found none")
	}
	real := "sha256:" + strings.Repeat("ab", 32)
	for _, w := range s.Workloads() {
		for i := range w.Template.Spec.Containers {
			c := &w.Template.Spec.Containers[i]
			c.Image = strings.Split(c.Image, "@")[0] + "@" + real
		}
		for i := range w.Template.Spec.InitContainers {
			c := &w.Template.Spec.InitContainers[i]
			c.Image = strings.Split(c.Image, "@")[0] + "@" + real
		}
	}
	errs := Placeholders(s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "CHAINCODE_ID") {
		t.Fatalf("with every digest real, Placeholders = %v, want the chaincode package id alone", errs)
	}
}

func TestParsePorts(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    map[string]int
		wantErr string
	}{
		"defaults": {": \"${HX_CONSENT_GRPC_PORT:=27101}\"\n# a comment\n: \"${HX_MINIO_PORT:=27090}\"\n",
			map[string]int{"HX_CONSENT_GRPC_PORT": 27101, "HX_MINIO_PORT": 27090}, ""},
		"no port":          {"# nothing\n", nil, "no HX_*_PORT default"},
		"a port too large": {": \"${HX_X_PORT:=70000}\"\n", nil, "is not a port"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParsePorts(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePorts error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ParsePorts = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("ParsePorts[%s] = %d, want %d", k, got[k], v)
				}
			}
		})
	}
}

// Helpers that find an object of the set to change; each fails the test
// if there is none.

func find[T runtime.Object](t *testing.T, s *Set, name string, nameOf func(T) string) T {
	t.Helper()
	for _, o := range all[T](s) {
		if nameOf(o) == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T %s in %s", zero, name, s.Name)
	return zero
}

func deployment(t *testing.T, s *Set, name string) *appsv1.Deployment {
	return find(t, s, name, func(o *appsv1.Deployment) string { return o.Name })
}

func statefulSet(t *testing.T, s *Set, name string) *appsv1.StatefulSet {
	return find(t, s, name, func(o *appsv1.StatefulSet) string { return o.Name })
}

func service(t *testing.T, s *Set, name string) *corev1.Service {
	return find(t, s, name, func(o *corev1.Service) string { return o.Name })
}

func policy(t *testing.T, s *Set, name string) *networkingv1.NetworkPolicy {
	return find(t, s, name, func(o *networkingv1.NetworkPolicy) string { return o.Name })
}

func budget(t *testing.T, s *Set, name string) *policyv1.PodDisruptionBudget {
	return find(t, s, name, func(o *policyv1.PodDisruptionBudget) string { return o.Name })
}

func configMap(t *testing.T, s *Set, name string) *corev1.ConfigMap {
	return find(t, s, name, func(o *corev1.ConfigMap) string { return o.Name })
}

func pod(t *testing.T, s *Set, workload string) *corev1.PodSpec {
	t.Helper()
	w, ok := s.Workload(workload)
	if !ok {
		t.Fatalf("no workload %s", workload)
	}
	return &w.Template.Spec
}

func ctr(t *testing.T, s *Set, workload, name string) *corev1.Container {
	t.Helper()
	p := pod(t, s, workload)
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	t.Fatalf("no container %s in %s", name, workload)
	return nil
}

func initContainer(t *testing.T, s *Set, workload, name string) *corev1.Container {
	t.Helper()
	p := pod(t, s, workload)
	for i := range p.InitContainers {
		if p.InitContainers[i].Name == name {
			return &p.InitContainers[i]
		}
	}
	t.Fatalf("no init container %s in %s", name, workload)
	return nil
}

func volume(t *testing.T, s *Set, workload, name string) *corev1.Volume {
	t.Helper()
	p := pod(t, s, workload)
	for i := range p.Volumes {
		if p.Volumes[i].Name == name {
			return &p.Volumes[i]
		}
	}
	t.Fatalf("no volume %s in %s", name, workload)
	return nil
}

func setEnv(t *testing.T, c *corev1.Container, name, value string) {
	t.Helper()
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i].Value = value
			return
		}
	}
	t.Fatalf("container %s has no %s", c.Name, name)
}

func remove(t *testing.T, s *Set, kind, name string) {
	t.Helper()
	for i, o := range s.Objects {
		m, ok := o.(metav1.Object)
		if ok && o.GetObjectKind().GroupVersionKind().Kind == kind && m.GetName() == name {
			s.Objects = append(s.Objects[:i], s.Objects[i+1:]...)
			return
		}
	}
	t.Fatalf("no %s %s to remove", kind, name)
}

func ptr[T any](v T) *T { return &v }

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }
