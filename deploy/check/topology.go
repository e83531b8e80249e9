package check

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	componentLabel = "app.kubernetes.io/component"
	orgLabel       = "health-exchange/org"
)

// Fabric checks the Fabric network's parts against each other: every
// orderer and peer pod has its own crypto Secret among its StatefulSet's
// projected sources (<name>-<ordinal>-crypto, one per replica); each peer
// organisation has a gateway Service (<org>-gateway) that selects all its
// peers and nothing else; each peer's gossip bootstrap is a peer of its
// StatefulSet; and the chaincode server the peer's ccaas builder will dial
// (<peername>-chaincode:9999) exists and admits the organisation's peers.
func Fabric(s *Set) []error {
	var errs []error
	orgs := map[string][]Workload{}
	for _, w := range s.Workloads() {
		comp := w.Labels()[componentLabel]
		if comp != "orderer" && comp != "peer" {
			continue
		}
		if comp == "peer" {
			orgs[w.Labels()[orgLabel]] = append(orgs[w.Labels()[orgLabel]], w)
		}
		if w.Kind != "StatefulSet" {
			errs = append(errs, fmt.Errorf("%s: %s: a Fabric node should be a StatefulSet (its pods keep names and volumes)", s.Name, w))
			continue
		}
		sources := map[string]bool{}
		for _, v := range w.Template.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, ps := range v.Projected.Sources {
				if ps.Secret != nil {
					sources[ps.Secret.Name] = true
				}
			}
		}
		for i := range int(w.Replicas) {
			if name := fmt.Sprintf("%s-%d-crypto", w.Name, i); !sources[name] {
				errs = append(errs, fmt.Errorf("%s: %s has %d replicas but mounts no Secret %s for its pod %s-%d",
					s.Name, w, w.Replicas, name, w.Name, i))
			}
		}
	}
	if len(orgs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no peer (%s=peer)", s.Name, componentLabel))
	}
	names := make([]string, 0, len(orgs))
	for org := range orgs {
		names = append(names, org)
	}
	sort.Strings(names)
	for _, org := range names {
		peers := orgs[org]
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: organisation %q: %s", s.Name, org, fmt.Sprintf(format, args...)))
		}
		if org == "" {
			fail("peers without the %s label", orgLabel)
			continue
		}
		gw := s.Service(org + "-gateway")
		if gw == nil || len(gw.Spec.Selector) == 0 {
			fail("no gateway Service %s-gateway with a selector", org)
		} else {
			sel := labels.SelectorFromSet(gw.Spec.Selector)
			for _, w := range selectedWorkloads(s, gw.Namespace, sel) {
				if w.Labels()[componentLabel] != "peer" || w.Labels()[orgLabel] != org {
					fail("gateway Service %s also selects %s", gw.Name, w)
				}
			}
			for _, p := range peers {
				if !sel.Matches(labels.Set(p.Labels())) {
					fail("gateway Service %s does not select %s", gw.Name, p)
				}
			}
		}
		for _, p := range peers {
			for _, c := range p.Template.Spec.Containers {
				env := map[string]string{}
				for _, e := range c.Env {
					env[e.Name] = e.Value
				}
				if b := env["CORE_PEER_GOSSIP_BOOTSTRAP"]; b != "" {
					if to, _, err := resolve(s, p.Namespace, b); err != nil || to.Name != p.Name {
						fail("%s's gossip bootstrap %s is not one of its peers (%v)", p, b, err)
					}
				}
				cfg, ok := env["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"]
				if !ok {
					fail("%s sets no CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG: the ccaas builder has no peername", p)
					continue
				}
				m := peername.FindStringSubmatch(cfg)
				if m == nil || m[1] != org {
					fail("%s's ccaas peername (%s) is not %q", p, cfg, org)
					continue
				}
				to, port, err := resolve(s, p.Namespace, m[1]+"-chaincode:9999")
				if err != nil {
					fail("%s's chaincode server %s-chaincode:9999: %v", p, m[1], err)
					continue
				}
				if to.Labels()[orgLabel] != org {
					fail("%s's chaincode server is %s, of another organisation", p, to)
				}
				if !Admits(s, p, to, port) {
					fail("the network policies do not let %s reach %s", p, to)
				}
			}
		}
	}
	return errs
}

var peername = regexp.MustCompile(`^\{\s*"peername"\s*:\s*"([a-z0-9-]+)"\s*\}$`)

// minioServer is MinIO's server list: https://minio-{0...3}.minio-hl.<...>
var minioServer = regexp.MustCompile(`^https://([a-z0-9-]+)-\{0\.\.\.([0-9]+)\}\.([a-z0-9-]+)\.`)

// MinIO checks the distributed MinIO: the server list in its arguments
// names exactly its StatefulSet's pods by its headless governing Service
// (which lists pods before they are ready, so the nodes find each other),
// over https.
func MinIO(s *Set) []error {
	w, ok := s.Workload("minio")
	if !ok {
		return []error{fmt.Errorf("%s: no minio workload", s.Name)}
	}
	if w.Kind != "StatefulSet" {
		return []error{fmt.Errorf("%s: %s: MinIO's nodes need stable names and volumes: a StatefulSet", s.Name, w)}
	}
	var errs []error
	found := false
	for _, c := range w.Template.Spec.Containers {
		for _, a := range c.Args {
			m := minioServer.FindStringSubmatch(a)
			if m == nil {
				continue
			}
			found = true
			last, _ := strconv.Atoi(m[2])
			if m[1] != w.Name || m[3] != w.ServiceName {
				errs = append(errs, fmt.Errorf("%s: %s: server list %s does not name %s-N.%s", s.Name, w, a, w.Name, w.ServiceName))
			}
			if last+1 != int(w.Replicas) {
				errs = append(errs, fmt.Errorf("%s: %s: the minio server list names %d nodes ({0...%d}) but the StatefulSet has %d replicas",
					s.Name, w, last+1, last, w.Replicas))
			}
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("%s: %s: no server list https://%s-{0...N}.%s... in the arguments", s.Name, w, w.Name, w.ServiceName))
	}
	if svc := s.Service(w.ServiceName); svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		errs = append(errs, fmt.Errorf("%s: %s: its governing Service %s must be headless and publish not-ready addresses", s.Name, w, w.ServiceName))
	}
	return errs
}

// Namespace checks that the set has one Namespace, that every namespaced
// object is in it, and that it enforces the restricted Pod Security
// Standard.
func Namespace(s *Set) []error {
	nss := s.Namespaces()
	if len(nss) != 1 {
		return []error{fmt.Errorf("%s: %d Namespaces, want one", s.Name, len(nss))}
	}
	ns := nss[0]
	var errs []error
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		errs = append(errs, fmt.Errorf("%s: Namespace %s does not enforce the restricted pod security standard", s.Name, ns.Name))
	}
	for _, w := range s.Workloads() {
		if w.Namespace != ns.Name {
			errs = append(errs, fmt.Errorf("%s: %s is in namespace %q, not %s", s.Name, w, w.Namespace, ns.Name))
		}
	}
	for _, svc := range s.Services() {
		if svc.Namespace != ns.Name {
			errs = append(errs, fmt.Errorf("%s: Service %s is in namespace %q, not %s", s.Name, svc.Name, svc.Namespace, ns.Name))
		}
	}
	for _, p := range s.Policies() {
		if p.Namespace != ns.Name {
			errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s is in namespace %q, not %s", s.Name, p.Name, p.Namespace, ns.Name))
		}
	}
	return errs
}

// Production checks what a production deployment must have beyond what
// every deployment has: each service and each chaincode server at two
// replicas or more, at least three orderers (Raft outlives one), at least
// four MinIO nodes, and two peers or more in each peer organisation.
func Production(s *Set) []error {
	var errs []error
	minimum := func(w Workload, n int32, why string) {
		if w.Replicas < n {
			errs = append(errs, fmt.Errorf("%s: %s has %d replicas, want %d or more (%s)", s.Name, w, w.Replicas, n, why))
		}
	}
	seen := map[string]bool{}
	for _, w := range s.Workloads() {
		comp := w.Labels()[componentLabel]
		seen[comp] = true
		switch comp {
		case "service":
			minimum(w, 2, "a service outlives one instance")
		case "chaincode":
			minimum(w, 2, "the organisation's peers outlive one chaincode server")
		case "orderer":
			minimum(w, 3, "Raft orders with a majority")
		case "object-storage":
			minimum(w, 4, "erasure coding over four drives or more")
		case "peer":
			minimum(w, 2, "two peers per peer organisation")
		}
	}
	for _, comp := range []string{"service", "chaincode", "orderer", "object-storage", "peer"} {
		if !seen[comp] {
			errs = append(errs, fmt.Errorf("%s: no workload with %s=%s", s.Name, componentLabel, comp))
		}
	}
	return errs
}
