package check

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Secrets checks the Secrets against template, the list of the Secrets
// made out of band (deploy/k8s/secrets): the set itself holds no Secret
// (no key material travels with the manifests); every value of the
// template is empty; every Secret a workload reads (a volume, a projected
// source, an environment variable) is in the template with every key it
// reads, unless marked optional. Every ConfigMap a workload reads is in
// the set with the keys it reads.
func Secrets(s, template *Set) []error {
	var errs []error
	for _, sec := range s.Secrets() {
		errs = append(errs, fmt.Errorf("%s: Secret %s is in the manifests: Secrets are made out of band (deploy/k8s/secrets)", s.Name, sec.Name))
	}
	declared := map[string]map[string]bool{}
	for _, sec := range template.Secrets() {
		keys := map[string]bool{}
		for k, v := range sec.StringData {
			keys[k] = true
			if v != "" {
				errs = append(errs, fmt.Errorf("%s: Secret %s: %s is not empty: the template holds no key material", template.Name, sec.Name, k))
			}
		}
		for k, v := range sec.Data {
			keys[k] = true
			if len(v) != 0 {
				errs = append(errs, fmt.Errorf("%s: Secret %s: %s is not empty: the template holds no key material", template.Name, sec.Name, k))
			}
		}
		declared[sec.Name] = keys
	}
	for _, w := range s.Workloads() {
		for _, r := range reads(w.Template.Spec) {
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Errorf("%s: %s reads %s %s: %s", s.Name, w, r.kind, r.name, fmt.Sprintf(format, args...)))
			}
			switch r.kind {
			case "Secret":
				keys, ok := declared[r.name]
				if !ok {
					if !r.optional {
						fail("not in %s", template.Name)
					}
					continue
				}
				for _, k := range r.keys {
					if !keys[k] {
						fail("%s does not list key %s", template.Name, k)
					}
				}
			case "ConfigMap":
				cm := s.ConfigMap(r.name)
				if cm == nil {
					if !r.optional {
						fail("not in the manifests")
					}
					continue
				}
				for _, k := range r.keys {
					if _, ok := cm.Data[k]; !ok {
						fail("it has no key %s", k)
					}
				}
			}
		}
	}
	return errs
}

// read is one Secret or ConfigMap a pod reads, and the keys it names.
type read struct {
	kind, name string
	keys       []string
	optional   bool
}

func reads(pod corev1.PodSpec) []read {
	var out []read
	itemKeys := func(items []corev1.KeyToPath) []string {
		var keys []string
		for _, it := range items {
			keys = append(keys, it.Key)
		}
		return keys
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	for _, v := range pod.Volumes {
		switch {
		case v.Secret != nil:
			out = append(out, read{"Secret", v.Secret.SecretName, itemKeys(v.Secret.Items), isTrue(v.Secret.Optional)})
		case v.ConfigMap != nil:
			out = append(out, read{"ConfigMap", v.ConfigMap.Name, itemKeys(v.ConfigMap.Items), isTrue(v.ConfigMap.Optional)})
		case v.Projected != nil:
			for _, ps := range v.Projected.Sources {
				if ps.Secret != nil {
					out = append(out, read{"Secret", ps.Secret.Name, itemKeys(ps.Secret.Items), isTrue(ps.Secret.Optional)})
				}
				if ps.ConfigMap != nil {
					out = append(out, read{"ConfigMap", ps.ConfigMap.Name, itemKeys(ps.ConfigMap.Items), isTrue(ps.ConfigMap.Optional)})
				}
			}
		}
	}
	for _, c := range allContainers(pod) {
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				out = append(out, read{"Secret", r.Name, []string{r.Key}, isTrue(r.Optional)})
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				out = append(out, read{"ConfigMap", r.Name, []string{r.Key}, isTrue(r.Optional)})
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				out = append(out, read{"Secret", e.SecretRef.Name, nil, isTrue(e.SecretRef.Optional)})
			}
			if e.ConfigMapRef != nil {
				out = append(out, read{"ConfigMap", e.ConfigMapRef.Name, nil, isTrue(e.ConfigMapRef.Optional)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
