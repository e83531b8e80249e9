package check

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Services checks every Service: a valid name, a selector that selects
// the pods of some workload of the set in its namespace, and ports whose
// target each selected workload's containers declare (by name or number),
// every port name valid.
func Services(s *Set) []error {
	var errs []error
	for _, svc := range s.Services() {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: Service %s: %s", s.Name, svc.Name, fmt.Sprintf(format, args...)))
		}
		for _, msg := range validation.IsDNS1035Label(svc.Name) {
			fail("name: %s", msg)
		}
		if len(svc.Spec.Selector) == 0 {
			fail("has no selector: it selects no pod")
			continue
		}
		selected := selectedWorkloads(s, svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
		if len(selected) == 0 {
			fail("selects no pod (selector %v matches no workload's pods)", svc.Spec.Selector)
			continue
		}
		for _, p := range svc.Spec.Ports {
			for _, msg := range validation.IsValidPortName(p.Name) {
				fail("port %q: %s", p.Name, msg)
			}
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			for _, w := range selected {
				if !podHasPort(w.Template.Spec, target) {
					fail("port %s targets %s, which %s's containers do not declare", p.Name, target.String(), w)
				}
			}
		}
	}
	for _, w := range s.Workloads() {
		for _, c := range w.Template.Spec.Containers {
			for _, p := range c.Ports {
				for _, msg := range validation.IsValidPortName(p.Name) {
					errs = append(errs, fmt.Errorf("%s: %s container %s: port %q: %s", s.Name, w, c.Name, p.Name, msg))
				}
			}
		}
	}
	return errs
}

// Budgets checks that every workload has a PodDisruptionBudget that
// selects its pods and still lets one of them be evicted, and that every
// budget selects some workload.
func Budgets(s *Set) []error {
	var errs []error
	for _, b := range s.Budgets() {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || b.Spec.Selector == nil || sel.Empty() {
			errs = append(errs, fmt.Errorf("%s: PodDisruptionBudget %s: no usable selector", s.Name, b.Name))
			continue
		}
		if len(selectedWorkloads(s, b.Namespace, sel)) == 0 {
			errs = append(errs, fmt.Errorf("%s: PodDisruptionBudget %s selects no pod", s.Name, b.Name))
		}
	}
	for _, w := range s.Workloads() {
		var covering []string
		for _, b := range s.Budgets() {
			sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
			if err != nil || b.Namespace != w.Namespace || !sel.Matches(labels.Set(w.Labels())) {
				continue
			}
			covering = append(covering, b.Name)
			if blocks(b.Spec.MinAvailable, b.Spec.MaxUnavailable, w.Replicas) {
				errs = append(errs, fmt.Errorf("%s: PodDisruptionBudget %s lets no pod of %s (%d replicas) be evicted: a node drain would never end",
					s.Name, b.Name, w, w.Replicas))
			}
		}
		if len(covering) == 0 {
			errs = append(errs, fmt.Errorf("%s: %s has no pod disruption budget", s.Name, w))
		}
	}
	return errs
}

// blocks says whether a budget allows no voluntary eviction of a workload
// of n replicas.
func blocks(minAvailable, maxUnavailable *intstr.IntOrString, n int32) bool {
	switch {
	case maxUnavailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, int(n), false)
		return err != nil || v < 1
	case minAvailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(minAvailable, int(n), true)
		return err != nil || int32(v) >= n
	}
	return true
}

// selectedWorkloads are the workloads in namespace whose pods sel selects.
func selectedWorkloads(s *Set, namespace string, sel labels.Selector) []Workload {
	var out []Workload
	for _, w := range s.Workloads() {
		if w.Namespace == namespace && sel.Matches(labels.Set(w.Labels())) {
			out = append(out, w)
		}
	}
	return out
}

func podHasPort(pod corev1.PodSpec, port intstr.IntOrString) bool {
	for _, c := range pod.Containers {
		if _, ok := containerPort(c, port); ok {
			return true
		}
	}
	return false
}
