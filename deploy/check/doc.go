// Package check renders the exchange's Kubernetes manifests (deploy/k8s)
// with the kustomize API, decodes every object strictly into the
// Kubernetes API types, and makes the checks a reviewer would make of the
// result: every workload probed, limited and non-root; every Service and
// disruption budget selecting pods; the services' ports, addresses and
// files agreeing with their configuration; images pinned by digest; the
// decision service reachable by the enforcement services only; production
// replicated.
//
// It reads nothing but what it is given (a kustomization's folder, the
// ports as values) and must never pass a set of manifests it could not
// decode whole: an unknown or repeated field is an error, not a warning.
// It is not the API server: what only a cluster checks (admission,
// scheduling, images that exist) stays unchecked.
package check
