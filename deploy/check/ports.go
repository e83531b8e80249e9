package check

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// portLine is one default of test-network/ports.sh:
// : "${HX_CONSENT_GRPC_PORT:=27101}"
var portLine = regexp.MustCompile(`^\s*:\s*"\$\{(HX_[A-Z0-9_]+_PORT):=([0-9]+)\}"\s*$`)

// ParsePorts reads the port defaults of a ports.sh (the development
// network's one list of ports, which the daemons' addresses come from), by
// variable name.
func ParsePorts(r io.Reader) (map[string]int, error) {
	ports := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := portLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("ports: %s=%s is not a port", m[1], m[2])
		}
		ports[m[1]] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("ports: no HX_*_PORT default found")
	}
	return ports, nil
}
