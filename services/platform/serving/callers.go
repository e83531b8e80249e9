package serving

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"healthexchange/services/platform/mtls"
)

// Callers says which holders of the services' certificates may call which
// gRPC methods: a full method name ("/consent.v1.DecisionService/Authorize"),
// or "*" for every method not named, maps to the holders allowed, each
// "kind/name" (mtls.Identity), "kind/*" for every holder of a kind, or
// "self" for the service itself (its own HTTP/JSON gateway). The health
// checks are open to every holder. A method no rule names, with no "*", is
// refused: the rules fail closed.
type Callers map[string][]string

// DefaultCallers let the service's own gateway and the apps call every
// method; devices and the other services nothing.
func DefaultCallers() Callers { return Callers{"*": {"self", "app/*"}} }

var callerPattern = regexp.MustCompile(`^(self|(service|app|device)/(\*|[a-z0-9][a-z0-9-]{0,62}))$`)

// Validate refuses a rule that is not a full method name or "*", and a
// holder pattern that is malformed.
func (c Callers) Validate() error {
	for method, allowed := range c {
		if method != "*" && !strings.HasPrefix(method, "/") {
			return fmt.Errorf("callers: %q is not a full method name (/package.Service/Method) or *", method)
		}
		for _, a := range allowed {
			if !callerPattern.MatchString(a) {
				return fmt.Errorf("callers: %q of %s is not self, KIND/NAME or KIND/* (kinds: service, app, device)", a, method)
			}
		}
	}
	return nil
}

// Allows reports whether id may call method of the service self.
func (c Callers) Allows(method string, id, self mtls.Identity) bool {
	allowed, ok := c[method]
	if !ok {
		allowed = c["*"]
	}
	for _, a := range allowed {
		if a == "self" && id == self || a == id.Kind+"/*" || a == id.String() {
			return true
		}
	}
	return false
}

func isHealth(method string) bool {
	return method == healthpb.Health_Check_FullMethodName || method == healthpb.Health_Watch_FullMethodName
}

// check refuses a call whose caller the rules do not name, with
// PermissionDenied saying who called what.
func (c Callers) check(ctx context.Context, method string, self mtls.Identity) error {
	if isHealth(method) {
		return nil
	}
	id, err := mtls.PeerIdentity(ctx)
	if err != nil {
		return status.Errorf(codes.PermissionDenied, "%s: %v", method, err)
	}
	if !c.Allows(method, id, self) {
		return status.Errorf(codes.PermissionDenied, "%s may not call %s", id, method)
	}
	return nil
}

func (c Callers) unary(self mtls.Identity) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := c.check(ctx, info.FullMethod, self); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func (c Callers) stream(self mtls.Identity) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := c.check(ss.Context(), info.FullMethod, self); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
