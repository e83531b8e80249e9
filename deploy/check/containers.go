package check

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Containers checks every container of every workload: liveness and
// readiness probes (not for init containers, which cannot have them) on a
// port the container declares; CPU and memory requests and limits, each
// request within its limit; a non-root user given by number; a read-only
// root filesystem, no privilege escalation, every capability dropped, the
// runtime's default seccomp profile; and no service account token mounted.
func Containers(s *Set) []error {
	var errs []error
	for _, w := range s.Workloads() {
		pod := w.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			errs = append(errs, fmt.Errorf("%s: %s mounts a service account token (automountServiceAccountToken: false)", s.Name, w))
		}
		for _, c := range pod.InitContainers {
			errs = append(errs, container(s.Name, w, pod, c, false)...)
		}
		for _, c := range pod.Containers {
			errs = append(errs, container(s.Name, w, pod, c, true)...)
		}
	}
	return errs
}

func container(set string, w Workload, pod corev1.PodSpec, c corev1.Container, probed bool) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s container %s: %s", set, w, c.Name, fmt.Sprintf(format, args...)))
	}
	if probed {
		probes := []struct {
			name     string
			probe    *corev1.Probe
			required bool
		}{{"liveness", c.LivenessProbe, true}, {"readiness", c.ReadinessProbe, true}, {"startup", c.StartupProbe, false}}
		for _, p := range probes {
			switch {
			case p.probe == nil && p.required:
				fail("no %s probe", p.name)
			case p.probe == nil:
			default:
				if err := probePort(c, p.probe); err != nil {
					fail("%s probe: %v", p.name, err)
				}
			}
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		switch {
		case !hasReq:
			fail("no %s request", r)
		case !hasLim:
			fail("no %s limit", r)
		case req.Cmp(lim) > 0:
			fail("%s request %s is above its limit %s", r, req.String(), lim.String())
		case lim.Cmp(resource.Quantity{}) <= 0:
			fail("%s limit %s is not positive", r, lim.String())
		}
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	nonRoot := firstBool(csc.RunAsNonRoot, psc.RunAsNonRoot)
	uid := firstInt64(csc.RunAsUser, psc.RunAsUser)
	switch {
	case nonRoot == nil || !*nonRoot:
		fail("may run as root: runAsNonRoot is not true (a non-root user is required)")
	case uid == nil:
		fail("runs as the image's user: give runAsUser (non-root user required)")
	case *uid == 0:
		fail("runAsUser is 0: a non-root user is required")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		fail("the root filesystem is writable (readOnlyRootFilesystem: true)")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		fail("may escalate privileges (allowPrivilegeEscalation: false)")
	}
	if csc.Privileged != nil && *csc.Privileged {
		fail("is privileged")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		fail("keeps capabilities (drop: [ALL])")
	} else if len(csc.Capabilities.Add) > 0 {
		fail("adds capabilities %v", csc.Capabilities.Add)
	}
	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
		fail("no seccomp profile (RuntimeDefault)")
	}
	return errs
}

// probePort reports a probe that names a port the container does not
// declare.
func probePort(c corev1.Container, p *corev1.Probe) error {
	switch {
	case p.HTTPGet != nil:
		return hasPort(c, p.HTTPGet.Port)
	case p.TCPSocket != nil:
		return hasPort(c, p.TCPSocket.Port)
	case p.GRPC != nil:
		return hasPort(c, intstr.FromInt32(p.GRPC.Port))
	case p.Exec != nil:
		return nil
	}
	return fmt.Errorf("no handler")
}

func hasPort(c corev1.Container, port intstr.IntOrString) error {
	if _, ok := containerPort(c, port); !ok {
		return fmt.Errorf("port %s is not a port of the container", port.String())
	}
	return nil
}

// containerPort is the container's port that port names (by name) or
// numbers.
func containerPort(c corev1.Container, port intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

func firstBool(vs ...*bool) *bool {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstInt64(vs ...*int64) *int64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// digestRef is an image reference pinned by digest (a tag before the
// digest is allowed; the digest decides).
var digestRef = regexp.MustCompile(`^[a-z0-9]+(?:[._/:-][a-z0-9]+)*(?::[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$`)

// Images checks that every container's image is pinned by digest.
func Images(s *Set) []error {
	var errs []error
	for _, w := range s.Workloads() {
		for _, c := range allContainers(w.Template.Spec) {
			if !digestRef.MatchString(c.Image) {
				errs = append(errs, fmt.Errorf("%s: %s container %s: image %q is not pinned by digest (name@sha256:...)", s.Name, w, c.Name, c.Image))
			}
		}
	}
	return errs
}

// placeholderDigest is the digest the manifests carry until a real one is
// put in: all zeros.
const placeholderDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Placeholders checks that nothing is left to be filled in before an
// apply: no image whose digest is the placeholder, no chaincode package id
// with the placeholder hash.
func Placeholders(s *Set) []error {
	var errs []error
	for _, w := range s.Workloads() {
		for _, c := range allContainers(w.Template.Spec) {
			if strings.HasSuffix(c.Image, "@"+placeholderDigest) {
				errs = append(errs, fmt.Errorf("%s: %s container %s: image %s has the placeholder digest", s.Name, w, c.Name, c.Image))
			}
		}
	}
	for _, cm := range all[*corev1.ConfigMap](s) {
		for k, v := range cm.Data {
			if strings.HasSuffix(v, ":"+strings.TrimPrefix(placeholderDigest, "sha256:")) {
				errs = append(errs, fmt.Errorf("%s: ConfigMap %s: %s=%s is the placeholder", s.Name, cm.Name, k, v))
			}
		}
	}
	return errs
}

func allContainers(pod corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(pod.InitContainers), pod.Containers...)
}
