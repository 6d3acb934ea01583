package api

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Google's own error texts, where the reference gives them. Each service
// family words a permission denial its own way; clients and people grep for
// these strings, so they are kept byte for byte.

// deniedIAM is the IAM and IAM Credentials wording.
func deniedIAM(permission string) error {
	return status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource (or it may not exist).", permission)
}

// deniedPrincipal is the Cloud Scheduler (and Cloud Tasks) wording.
func deniedPrincipal(permission, resource string) error {
	return status.Errorf(codes.PermissionDenied, "The principal (user or service account) lacks IAM permission %q for the resource %q (or the resource may not exist).", permission, resource)
}

// deniedCRM is Resource Manager's wording.
func deniedCRM() error {
	return status.Error(codes.PermissionDenied, "The caller does not have permission")
}

// deniedFunctions is Cloud Functions' wording.
func deniedFunctions(permission, resource string) error {
	return status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource '%s' (or resource may not exist).", permission, resource)
}

// invalid is INVALID_ARGUMENT naming the field and the rule.
func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// alreadyExists carries google.rpc.ResourceInfo like Google's conflicts do.
func alreadyExists(resourceType, resourceName, msg string) error {
	st := status.New(codes.AlreadyExists, msg)
	if d, err := st.WithDetails(&errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: resourceName}); err == nil {
		st = d
	}
	return st.Err()
}

// internal reports an unexpected failure (a store error). Its detail is
// returned: oidcron runs beside its users, and the detail is what they need.
func internal(err error) error {
	return status.Error(codes.Internal, fmt.Sprintf("Internal error encountered: %v", err))
}

// concurrentPolicyChange is the stale-etag answer of every setIamPolicy.
var concurrentPolicyChange = status.Error(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
