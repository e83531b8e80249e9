package check

import (
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Set is one rendered kustomization: every object decoded into its API
// type.
type Set struct {
	// Name says which kustomization (its folder), in errors.
	Name    string
	Objects []runtime.Object
}

// strict decodes JSON into the types client-go knows, refusing unknown
// and repeated fields.
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Strict: true})

// Decode decodes one object's JSON strictly: an unknown kind, an unknown
// field or a field given twice is an error.
func Decode(raw []byte) (runtime.Object, error) {
	obj, _, err := strict.Decode(raw, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// Render builds the kustomization in dir (a folder on disk) with the
// kustomize API and decodes every object it makes.
func Render(dir string) (*Set, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	s := &Set{Name: dir}
	var errs []error
	for _, r := range rm.Resources() {
		raw, err := r.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", dir, r.GetKind(), r.GetName(), err))
			continue
		}
		obj, err := Decode(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", dir, r.GetKind(), r.GetName(), err))
			continue
		}
		s.Objects = append(s.Objects, obj)
	}
	return s, errors.Join(errs...)
}

// DeepCopy is a copy of s that can be changed without changing s.
func (s *Set) DeepCopy() *Set {
	c := &Set{Name: s.Name, Objects: make([]runtime.Object, len(s.Objects))}
	for i, o := range s.Objects {
		c.Objects[i] = o.DeepCopyObject()
	}
	return c
}

// Workload is a Deployment or a StatefulSet, seen through what the checks
// need of both.
type Workload struct {
	Kind, Name, Namespace string
	Replicas              int32
	// ServiceName is a StatefulSet's governing Service ("" for a
	// Deployment).
	ServiceName string
	Template    *corev1.PodTemplateSpec
	// Claims are a StatefulSet's volume claim templates.
	Claims []corev1.PersistentVolumeClaim
}

func (w Workload) String() string { return w.Kind + " " + w.Name }

// Labels are the labels of the workload's pods.
func (w Workload) Labels() map[string]string { return w.Template.Labels }

// Workloads are the set's Deployments and StatefulSets, by name.
func (s *Set) Workloads() []Workload {
	var out []Workload
	for _, o := range s.Objects {
		switch o := o.(type) {
		case *appsv1.Deployment:
			out = append(out, Workload{Kind: "Deployment", Name: o.Name, Namespace: o.Namespace,
				Replicas: replicas(o.Spec.Replicas), Template: &o.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, Workload{Kind: "StatefulSet", Name: o.Name, Namespace: o.Namespace,
				Replicas: replicas(o.Spec.Replicas), ServiceName: o.Spec.ServiceName, Template: &o.Spec.Template,
				Claims: o.Spec.VolumeClaimTemplates})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Workload is the workload named name, if the set has one.
func (s *Set) Workload(name string) (Workload, bool) {
	for _, w := range s.Workloads() {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// replicas is a workload's replica count as the API defaults it.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// Services are the set's Services.
func (s *Set) Services() []*corev1.Service { return all[*corev1.Service](s) }

// Service is the Service named name, or nil.
func (s *Set) Service(name string) *corev1.Service {
	for _, svc := range s.Services() {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// ConfigMap is the ConfigMap named name, or nil (a generated one by its
// name with the hash suffix, as the workloads refer to it).
func (s *Set) ConfigMap(name string) *corev1.ConfigMap {
	for _, cm := range all[*corev1.ConfigMap](s) {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

// Secrets are the set's Secrets.
func (s *Set) Secrets() []*corev1.Secret { return all[*corev1.Secret](s) }

// Budgets are the set's PodDisruptionBudgets.
func (s *Set) Budgets() []*policyv1.PodDisruptionBudget {
	return all[*policyv1.PodDisruptionBudget](s)
}

// Policies are the set's NetworkPolicies.
func (s *Set) Policies() []*networkingv1.NetworkPolicy {
	return all[*networkingv1.NetworkPolicy](s)
}

// Namespaces are the set's Namespaces.
func (s *Set) Namespaces() []*corev1.Namespace { return all[*corev1.Namespace](s) }

func all[T runtime.Object](s *Set) []T {
	var out []T
	for _, o := range s.Objects {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
