package check

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The decision service and the services that may call it: the consent
// service's delegates (services/consent: Delegates).
const decisionService = "consent"

var enforcementServices = []string{"records", "ingest", "research"}

// nameLabel is the label the workloads' pods are named by.
const nameLabel = "app.kubernetes.io/name"

// DefaultDeny checks that every namespace of the set has a policy that
// isolates every pod for ingress, so that a pod takes only what a policy
// beside it allows.
func DefaultDeny(s *Set) []error {
	namespaces := map[string]bool{}
	for _, w := range s.Workloads() {
		namespaces[w.Namespace] = false
	}
	for _, p := range s.Policies() {
		if _, ok := namespaces[p.Namespace]; ok && len(p.Spec.PodSelector.MatchLabels) == 0 &&
			len(p.Spec.PodSelector.MatchExpressions) == 0 && isIngress(p) && len(p.Spec.Ingress) == 0 {
			namespaces[p.Namespace] = true
		}
	}
	var errs []error
	for ns, ok := range namespaces {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: namespace %q has no default-deny ingress policy (podSelector: {}, policyTypes: [Ingress], no rules)", s.Name, ns))
		}
	}
	return errs
}

// DecisionService checks that the consent service's gRPC port (its
// decision point) admits pods of the enforcement services only: some
// policy isolates its pods, and every rule that opens that port names
// those services' pods by name, nothing else (no other pod, no other
// namespace, no address block).
func DecisionService(s *Set) []error {
	consent, ok := s.Workload(decisionService)
	if !ok {
		return []error{fmt.Errorf("%s: no %s workload", s.Name, decisionService)}
	}
	port, ok := namedPort(consent, "grpc")
	if !ok {
		return []error{fmt.Errorf("%s: %s declares no port named grpc", s.Name, consent)}
	}
	pols := isolating(s, consent)
	if len(pols) == 0 {
		return []error{fmt.Errorf("%s: no network policy isolates %s's pods: any pod may call the decision service", s.Name, consent)}
	}
	var errs []error
	for _, p := range pols {
		for i, rule := range p.Spec.Ingress {
			if !coversPort(rule.Ports, port) {
				continue
			}
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("%s: NetworkPolicy %s rule %d admits %s to the decision service (port %s)",
					s.Name, p.Name, i, fmt.Sprintf(format, args...), port.Name))
			}
			if len(rule.From) == 0 {
				fail("every source")
				continue
			}
			for _, peer := range rule.From {
				switch {
				case peer.IPBlock != nil:
					fail("the addresses %s", peer.IPBlock.CIDR)
				case peer.NamespaceSelector != nil:
					fail("pods of other namespaces")
				case peer.PodSelector == nil:
					fail("an empty peer")
				default:
					if err := onlyNames(*peer.PodSelector, enforcementServices); err != nil {
						fail("%v", err)
					}
				}
			}
		}
	}
	return errs
}

// onlyNames reports a pod selector that may select a pod not named (by
// nameLabel) one of names.
func onlyNames(ls metav1.LabelSelector, names []string) error {
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return err
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if r.Key() != nameLabel {
			continue
		}
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			if vals := r.Values().UnsortedList(); allIn(vals, names) {
				return nil
			}
			return fmt.Errorf("pods named %v, not only %v", r.Values().List(), names)
		}
	}
	return fmt.Errorf("pods selected by %s, which does not limit %s to %v", sel.String(), nameLabel, names)
}

func allIn(vals, names []string) bool {
	for _, v := range vals {
		if !slices.Contains(names, v) {
			return false
		}
	}
	return len(vals) > 0
}

// Admits says whether the set's network policies let the pods of from
// connect to port of to's pods (in the same namespace unless a rule's
// namespace selector says otherwise; address blocks are not evaluated).
func Admits(s *Set, from, to Workload, port corev1.ContainerPort) bool {
	pols := isolating(s, to)
	if len(pols) == 0 {
		return true
	}
	for _, p := range pols {
		for _, rule := range p.Spec.Ingress {
			if !coversPort(rule.Ports, port) {
				continue
			}
			if len(rule.From) == 0 {
				return true
			}
			for _, peer := range rule.From {
				if peerMatches(s, peer, p.Namespace, from) {
					return true
				}
			}
		}
	}
	return false
}

func peerMatches(s *Set, peer networkingv1.NetworkPolicyPeer, policyNamespace string, from Workload) bool {
	if peer.IPBlock != nil {
		return false
	}
	if peer.NamespaceSelector == nil {
		if from.Namespace != policyNamespace {
			return false
		}
	} else if !namespaceMatches(s, *peer.NamespaceSelector, from.Namespace) {
		return false
	}
	if peer.PodSelector == nil {
		return true
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
	return err == nil && sel.Matches(labels.Set(from.Labels()))
}

func namespaceMatches(s *Set, ls metav1.LabelSelector, namespace string) bool {
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return false
	}
	nsLabels := labels.Set{"kubernetes.io/metadata.name": namespace}
	for _, ns := range s.Namespaces() {
		if ns.Name == namespace {
			for k, v := range ns.Labels {
				nsLabels[k] = v
			}
		}
	}
	return sel.Matches(nsLabels)
}

// isolating are the policies that select w's pods for ingress.
func isolating(s *Set, w Workload) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for _, p := range s.Policies() {
		if p.Namespace != w.Namespace || !isIngress(p) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err == nil && sel.Matches(labels.Set(w.Labels())) {
			out = append(out, p)
		}
	}
	return out
}

func isIngress(p *networkingv1.NetworkPolicy) bool {
	return len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
}

// coversPort says whether a rule's ports include port (no ports: all).
func coversPort(ports []networkingv1.NetworkPolicyPort, port corev1.ContainerPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String && p.Port.StrVal == port.Name:
			return true
		case p.Port.Type == intstr.Int && p.Port.IntVal == port.ContainerPort:
			return true
		case p.Port.Type == intstr.Int && p.EndPort != nil && p.Port.IntVal <= port.ContainerPort && port.ContainerPort <= *p.EndPort:
			return true
		}
	}
	return false
}

// namedPort is the port named name of one of w's containers.
func namedPort(w Workload, name string) (corev1.ContainerPort, bool) {
	for _, c := range w.Template.Spec.Containers {
		if p, ok := containerPort(c, intstr.FromString(name)); ok {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}
