package api

import (
	"context"
	"strings"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// RunServices implements the part of google.cloud.run.v2.Services that 2nd
// gen functions need: on Google a 2nd gen function runs on a Cloud Run
// service, and the run.invoker role is granted on that service. Here the
// service exists exactly when a 2nd gen function backs it.
type RunServices struct {
	runpb.UnimplementedServicesServer
	s *Server
}

// service resolves "projects/P/locations/L/services/S" to its function and
// checks permission on the service.
func (s *Server) service(ctx context.Context, name, permission string) (*functionspb.Function, string, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "services" || parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return nil, "", invalid("name: %q is not a service name of the form projects/{project}/locations/{location}/services/{service}.", name)
	}
	canonical := ""
	f, err := resolveIn(ctx, s, parts[1], permission, func() error { return deniedFunctions(permission, name) },
		func(pid string) (*functionspb.Function, string, error) {
			canonical = iam.ServiceResource(pid, parts[3], parts[5])
			f, err := s.dir.Function(ctx, iam.FunctionResource(pid, parts[3], parts[5]))
			if err == nil && !functions.IsGen2(f) {
				err = store.ErrNotFound // only a 2nd gen function has a service
			}
			return f, canonical, err
		},
		func(string) error { return status.Errorf(codes.NotFound, "Resource '%s' was not found", canonical) })
	return f, canonical, err
}

func (x *RunServices) GetService(ctx context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	f, name, err := x.s.service(ctx, req.GetName(), "run.services.get")
	if err != nil {
		return nil, err
	}
	uri := f.GetServiceConfig().GetUri()
	return &runpb.Service{Name: name, Uri: uri, Urls: []string{uri, f.GetUrl()}, CreateTime: f.GetCreateTime(), UpdateTime: f.GetUpdateTime()}, nil
}

func (x *RunServices) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	_, name, err := x.s.service(ctx, req.GetResource(), "run.services.getIamPolicy")
	if err != nil {
		return nil, err
	}
	return x.s.getPolicy(ctx, name, req.GetOptions())
}

func (x *RunServices) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	_, name, err := x.s.service(ctx, req.GetResource(), "run.services.setIamPolicy")
	if err != nil {
		return nil, err
	}
	return x.s.setPolicy(ctx, iam.KindService, name, req, nil)
}

func (x *RunServices) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	parts := strings.Split(req.GetResource(), "/")
	if len(parts) != 6 {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	p, err := x.s.dir.Project(ctx, parts[1])
	if err != nil {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	f, err := x.s.dir.Function(ctx, iam.FunctionResource(p.GetProjectId(), parts[3], parts[5]))
	if err != nil || !functions.IsGen2(f) {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	return x.s.testPermissions(ctx, iam.ServiceResource(p.GetProjectId(), parts[3], parts[5]), req.GetPermissions())
}
