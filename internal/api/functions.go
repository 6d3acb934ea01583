package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	functionsv1 "cloud.google.com/go/functions/apiv1/functionspb"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

var functionIDRule = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9_]{0,62}$`)

// parseFunctionName splits "projects/P/locations/L/functions/F".
func parseFunctionName(name string) (project, location, function string, err error) {
	project, location, function, ok := functions.Parts(name)
	if !ok {
		return "", "", "", invalid("name: %q is not a function name of the form projects/{project}/locations/{location}/functions/{function}.", name)
	}
	return project, location, function, nil
}

// parseLocationName splits "projects/P/locations/L".
func parseLocationName(field, name string) (project, location string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" || parts[1] == "" || parts[3] == "" {
		return "", "", invalid("%s: %q is not a location name of the form projects/{project}/locations/{location}.", field, name)
	}
	return parts[1], parts[3], nil
}

// function resolves a function name and checks permission on it. A missing
// function is NOT_FOUND for a caller allowed to see the location, else 403.
func (s *Server) function(ctx context.Context, name, permission string, notFound func(project, location, fn string) error) (*functionspb.Function, error) {
	proj, loc, fn, err := parseFunctionName(name)
	if err != nil {
		return nil, err
	}
	return resolveIn(ctx, s, proj, permission, func() error { return deniedFunctions(permission, name) },
		func(pid string) (*functionspb.Function, string, error) {
			canonical := iam.FunctionResource(pid, loc, fn)
			f, err := s.dir.Function(ctx, canonical)
			return f, canonical, err
		},
		func(pid string) error { return notFound(pid, loc, fn) })
}

func notFoundV2(project, location, fn string) error {
	return status.Errorf(codes.NotFound, "Resource '%s' was not found", iam.FunctionResource(project, location, fn))
}

func notFoundV1(project, location, fn string) error {
	return status.Errorf(codes.NotFound, "Function %s in region %s in project %s does not exist", fn, location, project)
}

// validateFunction checks the fields oidcron gives meaning to.
func validateFunction(f *functionspb.Function) error {
	up := functions.Upstream(f)
	if up == "" {
		return invalid("service_config.environment_variables.%s: required: the http(s) URL that oidcron forwards the function's invocations to.", functions.UpstreamEnv)
	}
	u, err := url.Parse(up)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("service_config.environment_variables.%s: %q must be an absolute http:// or https:// URL.", functions.UpstreamEnv, up)
	}
	if len(f.GetDescription()) > 1000 {
		return invalid("description: must be at most 1000 characters.")
	}
	if f.GetEventTrigger() != nil {
		return invalid("event_trigger: event-driven functions are not supported by oidcron; only HTTP functions are.")
	}
	return nil
}

// FunctionsV2 implements google.cloud.functions.v2.FunctionService.
type FunctionsV2 struct {
	functionspb.UnimplementedFunctionServiceServer
	s *Server
}

func (x *FunctionsV2) CreateFunction(ctx context.Context, req *functionspb.CreateFunctionRequest) (*longrunningpb.Operation, error) {
	proj, loc, err := parseLocationName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	id := req.GetFunctionId()
	if id == "" { // v2 clients may put the name in the function instead
		if _, _, fn, err := parseFunctionName(req.GetFunction().GetName()); err == nil {
			id = fn
		}
	}
	if !functionIDRule.MatchString(id) {
		return nil, invalid("function_id: %q is invalid: it must start with a letter, contain only letters, digits, hyphens and underscores, and be at most 63 characters.", id)
	}
	if !functions.ValidRegion(loc) {
		return nil, invalid("parent: location %q is not a region (such as us-central1).", loc)
	}
	p, err := x.s.project(ctx, proj)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deniedFunctions("cloudfunctions.functions.create", req.GetParent())
	}
	if err != nil {
		return nil, storeErr(err)
	}
	pid := p.GetProjectId()
	name := iam.FunctionResource(pid, loc, id)
	if err := x.s.check(ctx, "cloudfunctions.functions.create", "projects/"+pid+"/locations/"+loc, func() error {
		return deniedFunctions("cloudfunctions.functions.create", req.GetParent())
	}); err != nil {
		return nil, err
	}
	f := proto.Clone(req.GetFunction()).(*functionspb.Function)
	if f == nil {
		f = &functionspb.Function{}
	}
	if err := validateFunction(f); err != nil {
		return nil, err
	}
	if functions.IsGen2(f) && strings.ToLower(id) != id {
		return nil, invalid("function_id: %q is invalid for a 2nd gen function: it runs as a Cloud Run service, whose names are lowercase.", id)
	}
	now := timestamppb.New(x.s.clk.Now())
	f.Name = name
	f.State = functionspb.Function_ACTIVE
	f.CreateTime, f.UpdateTime = now, now
	if f.Environment == functionspb.Environment_ENVIRONMENT_UNSPECIFIED {
		f.Environment = functionspb.Environment_GEN_1
	}
	x.s.fillFunctionOutputs(f, pid, loc, id)
	var op *longrunningpb.Operation
	err = x.s.write(ctx, func(tx store.Tx) error {
		if err := tx.CreateFunction(ctx, f); err != nil {
			return err
		}
		op, err = x.s.functionOperation(ctx, tx, pid, loc, name, "create", f)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, status.Errorf(codes.AlreadyExists, "Function %s already exists", name)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	x.s.log.Info("function created", "function", name, "environment", f.GetEnvironment().String(), "upstream", functions.Upstream(f), "by", SubjectFrom(ctx).Member)
	return op, nil
}

// fillFunctionOutputs sets the output-only fields oidcron derives.
func (s *Server) fillFunctionOutputs(f *functionspb.Function, project, location, id string) {
	f.Url = functions.URL(project, location, id)
	if f.ServiceConfig == nil {
		f.ServiceConfig = &functionspb.ServiceConfig{}
	}
	f.ServiceConfig.Uri = functions.PathURL(s.cfg.GatewayURL, project, location, id)
	if functions.IsGen2(f) {
		f.ServiceConfig.Service = iam.ServiceResource(project, location, id)
	}
}

// functionOperation records, in the change's transaction, and returns a
// finished operation of the v2 API.
func (s *Server) functionOperation(ctx context.Context, tx store.Tx, project, location, target, verb string, result proto.Message) (*longrunningpb.Operation, error) {
	now := timestamppb.New(s.clk.Now())
	meta, err := anypb.New(&functionspb.OperationMetadata{CreateTime: now, EndTime: now, Target: target, Verb: verb, ApiVersion: "v2"})
	if err != nil {
		return nil, internal(err)
	}
	resp, err := anypb.New(result)
	if err != nil {
		return nil, internal(err)
	}
	op := &longrunningpb.Operation{
		Name:     fmt.Sprintf("projects/%s/locations/%s/operations/operation-%d-%s", project, location, s.clk.Now().UnixMilli(), randomDigits("123456789", 8)),
		Metadata: meta, Done: true, Result: &longrunningpb.Operation_Response{Response: resp},
	}
	if err := tx.PutOperation(ctx, op); err != nil {
		return nil, err
	}
	return op, nil
}

func (x *FunctionsV2) GetFunction(ctx context.Context, req *functionspb.GetFunctionRequest) (*functionspb.Function, error) {
	return x.s.function(ctx, req.GetName(), "cloudfunctions.functions.get", notFoundV2)
}

func (x *FunctionsV2) ListFunctions(ctx context.Context, req *functionspb.ListFunctionsRequest) (*functionspb.ListFunctionsResponse, error) {
	proj, loc, err := parseLocationName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	env, err := environmentFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	if req.GetOrderBy() != "" {
		return nil, invalid("order_by: not supported by oidcron; list without it and sort on the client.")
	}
	p, err := x.s.project(ctx, proj)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deniedFunctions("cloudfunctions.functions.list", req.GetParent())
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := x.s.check(ctx, "cloudfunctions.functions.list", iam.ProjectResource(p.GetProjectId()), func() error {
		return deniedFunctions("cloudfunctions.functions.list", req.GetParent())
	}); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), 1000, 1000)
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	list, err := x.s.st.ListFunctions(ctx, p.GetProjectId(), loc, store.Page{Size: size + 1, After: after})
	if err != nil {
		return nil, internal(err)
	}
	fns, next := pageOf(list, size, (*functionspb.Function).GetName)
	if env != functionspb.Environment_ENVIRONMENT_UNSPECIFIED {
		// Filtered after paging, so a page may hold fewer than page_size (AIP-158 allows it).
		kept := fns[:0]
		for _, f := range fns {
			if generation(f) == env {
				kept = append(kept, f)
			}
		}
		fns = kept
	}
	return &functionspb.ListFunctionsResponse{Functions: fns, NextPageToken: next}, nil
}

// environmentFilter reads the one list filter clients send: gcloud's
// `functions list` asks for `environment="GEN_2"`. Any other filter is
// refused rather than ignored, so nobody gets an unfiltered list by mistake.
func environmentFilter(f string) (functionspb.Environment, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return functionspb.Environment_ENVIRONMENT_UNSPECIFIED, nil
	}
	k, v, ok := strings.Cut(f, "=")
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if ok && strings.TrimSpace(k) == "environment" {
		if e, known := functionspb.Environment_value[v]; known && e != 0 {
			return functionspb.Environment(e), nil
		}
	}
	return 0, invalid("filter: %q is not supported by oidcron; the only filter is environment=\"GEN_1\" or environment=\"GEN_2\".", f)
}

// generation is a stored function's environment (1st gen unless GEN_2).
func generation(f *functionspb.Function) functionspb.Environment {
	if f.GetEnvironment() == functionspb.Environment_GEN_2 {
		return functionspb.Environment_GEN_2
	}
	return functionspb.Environment_GEN_1
}

// updatable are the Function fields UpdateFunction may change.
var updatable = map[string]bool{"description": true, "labels": true, "build_config": true, "service_config": true, "service_config.environment_variables": true, "kms_key_name": true}

func (x *FunctionsV2) UpdateFunction(ctx context.Context, req *functionspb.UpdateFunctionRequest) (*longrunningpb.Operation, error) {
	in := req.GetFunction()
	cur, err := x.s.function(ctx, in.GetName(), "cloudfunctions.functions.update", notFoundV2)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"description", "labels", "build_config", "service_config", "kms_key_name"}
	}
	for _, p := range paths {
		if !updatable[p] {
			return nil, invalid("update_mask: field %q cannot be updated.", p)
		}
	}
	if in.GetEnvironment() != functionspb.Environment_ENVIRONMENT_UNSPECIFIED && in.GetEnvironment() != cur.GetEnvironment() {
		return nil, invalid("environment: a function's generation cannot be changed; delete it and deploy it again.")
	}
	proj, loc, id, _ := functions.Parts(cur.GetName())
	var op *longrunningpb.Operation
	err = x.s.write(ctx, func(tx store.Tx) error {
		// Re-read inside the transaction so a concurrent update is not lost.
		next, err := tx.GetFunction(ctx, cur.GetName())
		if err != nil {
			return err
		}
		applyMask(next, in, paths)
		if err := validateFunction(next); err != nil {
			return err
		}
		x.s.fillFunctionOutputs(next, proj, loc, id)
		next.UpdateTime = timestamppb.New(x.s.clk.Now())
		if err := tx.UpdateFunction(ctx, next); err != nil {
			return err
		}
		op, err = x.s.functionOperation(ctx, tx, proj, loc, next.GetName(), "update", next)
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return op, nil
}

func (x *FunctionsV2) DeleteFunction(ctx context.Context, req *functionspb.DeleteFunctionRequest) (*longrunningpb.Operation, error) {
	f, err := x.s.function(ctx, req.GetName(), "cloudfunctions.functions.delete", notFoundV2)
	if err != nil {
		return nil, err
	}
	proj, loc, _, _ := functions.Parts(f.GetName())
	var op *longrunningpb.Operation
	err = x.s.write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteFunction(ctx, f.GetName()); err != nil {
			return err
		}
		// The function's policy goes with it, and so does its Cloud Run
		// service's: a function deployed again under the name starts clean.
		for _, r := range []string{f.GetName(), functions.InvokeResource(f)} {
			if err := tx.DeletePolicy(ctx, r); err != nil {
				return err
			}
		}
		op, err = x.s.functionOperation(ctx, tx, proj, loc, f.GetName(), "delete", &emptypb.Empty{})
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	x.s.log.Info("function deleted", "function", f.GetName(), "by", SubjectFrom(ctx).Member)
	return op, nil
}

// Function IAM, shared by the v1 service and the v2 IAMPolicy mixin.

func (s *Server) getFunctionPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest, notFound func(p, l, f string) error) (*iampb.Policy, error) {
	f, err := s.function(ctx, req.GetResource(), "cloudfunctions.functions.getIamPolicy", notFound)
	if err != nil {
		return nil, err
	}
	return s.getPolicy(ctx, f.GetName(), req.GetOptions())
}

func (s *Server) setFunctionPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest, notFound func(p, l, f string) error) (*iampb.Policy, error) {
	f, err := s.function(ctx, req.GetResource(), "cloudfunctions.functions.setIamPolicy", notFound)
	if err != nil {
		return nil, err
	}
	return s.setPolicy(ctx, iam.KindFunction, f.GetName(), req, nil)
}

func (s *Server) testFunctionPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	proj, loc, fn, err := parseFunctionName(req.GetResource())
	if err != nil {
		return nil, err
	}
	p, err := s.dir.Project(ctx, proj)
	if err != nil {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	name := iam.FunctionResource(p.GetProjectId(), loc, fn)
	if _, err := s.dir.Function(ctx, name); err != nil {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	return s.testPermissions(ctx, name, req.GetPermissions())
}

// FunctionsIAM implements the google.iam.v1.IAMPolicy mixin that Cloud
// Functions v2 serves for function resources.
type FunctionsIAM struct {
	iampb.UnimplementedIAMPolicyServer
	s *Server
}

func (x *FunctionsIAM) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return x.s.getFunctionPolicy(ctx, req, notFoundV2)
}

func (x *FunctionsIAM) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return x.s.setFunctionPolicy(ctx, req, notFoundV2)
}

func (x *FunctionsIAM) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return x.s.testFunctionPermissions(ctx, req)
}

// FunctionsV1 implements the parts of google.cloud.functions.v1 that gcloud
// uses on 1st gen functions: get, list and the IAM policy.
type FunctionsV1 struct {
	functionsv1.UnimplementedCloudFunctionsServiceServer
	s *Server
}

// gen1 hides 2nd gen functions from the v1 API, as Google's v1 API does.
func gen1(f *functionspb.Function, err error) (*functionspb.Function, error) {
	if err == nil && functions.IsGen2(f) {
		proj, loc, fn, _ := functions.Parts(f.GetName())
		return nil, notFoundV1(proj, loc, fn)
	}
	return f, err
}

// v1Function renders a function in the v1 shape.
func v1Function(f *functionspb.Function) *functionsv1.CloudFunction {
	env := map[string]string{}
	for k, v := range f.GetServiceConfig().GetEnvironmentVariables() {
		env[k] = v
	}
	entry := f.GetBuildConfig().GetEntryPoint()
	if entry == "" {
		// Deploy's default is the function's name; every 1st gen function has
		// one, and gcloud's list tells the generations apart by it.
		_, _, entry, _ = functions.Parts(f.GetName())
	}
	return &functionsv1.CloudFunction{
		Name: f.GetName(), Description: f.GetDescription(), Status: functionsv1.CloudFunctionStatus_ACTIVE,
		Trigger:             &functionsv1.CloudFunction_HttpsTrigger{HttpsTrigger: &functionsv1.HttpsTrigger{Url: f.GetUrl(), SecurityLevel: functionsv1.HttpsTrigger_SECURE_ALWAYS}},
		EntryPoint:          entry,
		Runtime:             f.GetBuildConfig().GetRuntime(),
		ServiceAccountEmail: f.GetServiceConfig().GetServiceAccountEmail(),
		UpdateTime:          &timestamppb.Timestamp{Seconds: f.GetUpdateTime().GetSeconds(), Nanos: f.GetUpdateTime().GetNanos() / 1e6 * 1e6}, VersionId: 1, Labels: f.GetLabels(), EnvironmentVariables: env, // v1 shows milliseconds
	}
}

func (x *FunctionsV1) GetFunction(ctx context.Context, req *functionsv1.GetFunctionRequest) (*functionsv1.CloudFunction, error) {
	f, err := gen1(x.s.function(ctx, req.GetName(), "cloudfunctions.functions.get", notFoundV1))
	if err != nil {
		return nil, err
	}
	return v1Function(f), nil
}

func (x *FunctionsV1) ListFunctions(ctx context.Context, req *functionsv1.ListFunctionsRequest) (*functionsv1.ListFunctionsResponse, error) {
	v2 := &FunctionsV2{s: x.s}
	resp, err := v2.ListFunctions(ctx, &functionspb.ListFunctionsRequest{Parent: req.GetParent(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := &functionsv1.ListFunctionsResponse{NextPageToken: resp.GetNextPageToken()}
	for _, f := range resp.GetFunctions() {
		if !functions.IsGen2(f) {
			out.Functions = append(out.Functions, v1Function(f))
		}
	}
	return out, nil
}

func (x *FunctionsV1) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return x.s.getFunctionPolicy(ctx, req, notFoundV1)
}

func (x *FunctionsV1) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return x.s.setFunctionPolicy(ctx, req, notFoundV1)
}

func (x *FunctionsV1) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return x.s.testFunctionPermissions(ctx, req)
}

// Operations implements google.longrunning.Operations for the finished
// operations oidcron records (function and project changes).
type Operations struct {
	longrunningpb.UnimplementedOperationsServer
	s *Server
}

func (x *Operations) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	if err := x.s.checkOperation(ctx, req.GetName()); err != nil {
		return nil, err
	}
	op, err := x.s.st.GetOperation(ctx, req.GetName())
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "Operation %s not found.", req.GetName())
	}
	if err != nil {
		return nil, internal(err)
	}
	return op, nil
}

// checkOperation checks the caller may read an operation: a function
// operation ("projects/P/locations/L/operations/X") needs
// cloudfunctions.operations.get on its project, a project creation
// ("operations/cp.NUMBER") resourcemanager.projects.get on that project.
func (s *Server) checkOperation(ctx context.Context, name string) error {
	if num, ok := strings.CutPrefix(name, "operations/cp."); ok {
		p, err := s.dir.Project(ctx, num)
		if err != nil {
			return deniedCRM()
		}
		return s.check(ctx, "resourcemanager.projects.get", iam.ProjectResource(p.GetProjectId()), deniedCRM)
	}
	parts := strings.Split(name, "/")
	deny := func() error { return deniedFunctions("cloudfunctions.operations.get", name) }
	if len(parts) != 6 || parts[0] != "projects" || parts[4] != "operations" {
		return deny()
	}
	p, err := s.dir.Project(ctx, parts[1])
	if err != nil {
		return deny()
	}
	return s.check(ctx, "cloudfunctions.operations.get", iam.ProjectResource(p.GetProjectId()), deny)
}
