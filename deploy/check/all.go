package check

import "fmt"

// Check is one of the checks of a rendered set; it returns every problem
// it finds.
type Check struct {
	Name string
	Run  func(*Set) []error
}

// Common are the checks every overlay must pass. ports are the services'
// ports by ports.sh variable; template is the rendered list of the
// Secrets made out of band.
func Common(ports map[string]int, template *Set) []Check {
	return []Check{
		{"containers", Containers},
		{"images", Images},
		{"services", Services},
		{"budgets", Budgets},
		{"default deny", DefaultDeny},
		{"decision service", DecisionService},
		{"ports", func(s *Set) []error { return Ports(s, ports) }},
		{"addresses", Addresses},
		{"files", Files},
		{"secrets", func(s *Set) []error { return Secrets(s, template) }},
		{"fabric", Fabric},
		{"minio", MinIO},
		{"namespace", Namespace},
	}
}

// Run runs checks on s and returns every problem found, each prefixed
// with its check's name.
func Run(s *Set, checks ...Check) []error {
	var errs []error
	for _, c := range checks {
		for _, err := range c.Run(s) {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errs
}
