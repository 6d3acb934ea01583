package rest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The fixtures below are the smallest servers that let the official clients
// exercise the transcoder; they are not oidcron's services.

// memSched is a map-backed CloudSchedulerServer. ResumeJob is deliberately
// left unimplemented (it answers UNIMPLEMENTED through the embedded type).
type memSched struct {
	schedulerpb.UnimplementedCloudSchedulerServer
	mu       sync.Mutex
	jobs     map[string]*schedulerpb.Job
	lastMask []string // update_mask.paths of the last UpdateJob
	runs     []string
}

func newMemSched() *memSched { return &memSched{jobs: map[string]*schedulerpb.Job{}} }

func notFound(name string) error {
	return status.Errorf(codes.NotFound, "Job not found: %s.", name)
}

func (s *memSched) CreateJob(_ context.Context, req *schedulerpb.CreateJobRequest) (*schedulerpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := proto.Clone(req.GetJob()).(*schedulerpb.Job)
	if !strings.HasPrefix(j.GetName(), req.GetParent()+"/jobs/") {
		return nil, status.Errorf(codes.InvalidArgument, "Job name %q is not under %q.", j.GetName(), req.GetParent())
	}
	if _, ok := s.jobs[j.GetName()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Job %s already exists.", j.GetName())
	}
	j.State = schedulerpb.Job_ENABLED
	s.jobs[j.GetName()] = j
	return j, nil
}

func (s *memSched) GetJob(_ context.Context, req *schedulerpb.GetJobRequest) (*schedulerpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[req.GetName()]
	if !ok {
		return nil, notFound(req.GetName())
	}
	return j, nil
}

// ListJobs pages by index; the page token is the index of the next job.
func (s *memSched) ListJobs(_ context.Context, req *schedulerpb.ListJobsRequest) (*schedulerpb.ListJobsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.jobs {
		if strings.HasPrefix(n, req.GetParent()+"/jobs/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	start := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(names) {
			return nil, status.Error(codes.InvalidArgument, "Invalid page token.")
		}
		start = n
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = 500
	}
	end := min(start+size, len(names))
	resp := &schedulerpb.ListJobsResponse{}
	for _, n := range names[start:end] {
		resp.Jobs = append(resp.Jobs, s.jobs[n])
	}
	if end < len(names) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (s *memSched) UpdateJob(_ context.Context, req *schedulerpb.UpdateJobRequest) (*schedulerpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[req.GetJob().GetName()]
	if !ok {
		return nil, notFound(req.GetJob().GetName())
	}
	s.lastMask = req.GetUpdateMask().GetPaths()
	j = proto.Clone(j).(*schedulerpb.Job)
	for _, p := range req.GetUpdateMask().GetPaths() {
		switch p {
		case "schedule":
			j.Schedule = req.GetJob().GetSchedule()
		case "http_target.uri":
			j.GetHttpTarget().Uri = req.GetJob().GetHttpTarget().GetUri()
		case "http_target.http_method":
			j.GetHttpTarget().HttpMethod = req.GetJob().GetHttpTarget().GetHttpMethod()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "update_mask: unsupported path %q", p)
		}
	}
	s.jobs[j.GetName()] = j
	return j, nil
}

func (s *memSched) DeleteJob(_ context.Context, req *schedulerpb.DeleteJobRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[req.GetName()]; !ok {
		return nil, notFound(req.GetName())
	}
	delete(s.jobs, req.GetName())
	return &emptypb.Empty{}, nil
}

func (s *memSched) PauseJob(_ context.Context, req *schedulerpb.PauseJobRequest) (*schedulerpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[req.GetName()]
	if !ok {
		return nil, notFound(req.GetName())
	}
	j.State = schedulerpb.Job_PAUSED
	return j, nil
}

func (s *memSched) RunJob(_ context.Context, req *schedulerpb.RunJobRequest) (*schedulerpb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[req.GetName()]
	if !ok {
		return nil, notFound(req.GetName())
	}
	s.runs = append(s.runs, req.GetName())
	return j, nil
}

// memCreds answers GenerateIdToken with a token that spells out what it
// received, so a test can see what the transcoder bound.
type memCreds struct {
	credentialspb.UnimplementedIAMCredentialsServer
	mu   sync.Mutex
	last *credentialspb.GenerateIdTokenRequest
}

func (c *memCreds) GenerateIdToken(_ context.Context, req *credentialspb.GenerateIdTokenRequest) (*credentialspb.GenerateIdTokenResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = req
	if !strings.HasPrefix(req.GetName(), "projects/-/serviceAccounts/") {
		return nil, status.Errorf(codes.InvalidArgument, "name: %q is not projects/-/serviceAccounts/{email}", req.GetName())
	}
	return &credentialspb.GenerateIdTokenResponse{Token: fmt.Sprintf("tok|%s|%s|%v", req.GetName(), req.GetAudience(), req.GetIncludeEmail())}, nil
}

// memIAM is the IAM admin service: only GetIamPolicy. adminpb's
// Unimplemented type has pointer receivers, so it is used as a pointer.
type memIAM struct {
	adminpb.UnimplementedIAMServer
	mu   sync.Mutex
	last *iampb.GetIamPolicyRequest
}

func (m *memIAM) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = req
	return &iampb.Policy{
		Version:  req.GetOptions().GetRequestedPolicyVersion(),
		Etag:     []byte("v1"),
		Bindings: []*iampb.Binding{{Role: "roles/iam.serviceAccountUser", Members: []string{"user:dev@example.com"}}},
	}, nil
}

// memProjects is Resource Manager v3: only GetIamPolicy, the target of the
// v1 alias gcloud uses.
type memProjects struct {
	resourcemanagerpb.UnimplementedProjectsServer
	mu   sync.Mutex
	last *iampb.GetIamPolicyRequest
}

func (p *memProjects) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = req
	return &iampb.Policy{Version: req.GetOptions().GetRequestedPolicyVersion(), Etag: []byte("p1"),
		Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{"user:owner@example.com"}}}}, nil
}

// memPolicy is the google.iam.v1.IAMPolicy mixin with its "**" templates.
type memPolicy struct {
	iampb.UnimplementedIAMPolicyServer
}

func (memPolicy) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return &iampb.Policy{Etag: []byte("mixin:" + req.GetResource())}, nil
}

// call is what the interceptor saw of one call.
type call struct {
	fullMethod   string
	streamMethod string // grpc.Method(ctx)
	fromREST     bool
	md           metadata.MD
}

type fixture struct {
	ts       *httptest.Server
	tr       *Transcoder
	sched    *memSched
	creds    *memCreds
	iam      *memIAM
	projects *memProjects

	mu    sync.Mutex
	calls []call
}

func (f *fixture) lastCall(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the interceptor saw no call")
	}
	return f.calls[len(f.calls)-1]
}

// newFixture registers the fixtures behind one transcoder and an
// httptest.Server. The interceptor records every call and, like an auth
// interceptor, refuses the bearer token "bad".
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{sched: newMemSched(), creds: &memCreds{}, iam: &memIAM{}, projects: &memProjects{}}
	f.tr = New(Options{Interceptor: func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		m, _ := grpc.Method(ctx)
		f.mu.Lock()
		f.calls = append(f.calls, call{fullMethod: info.FullMethod, streamMethod: m, fromREST: FromREST(ctx), md: md})
		f.mu.Unlock()
		if a := md.Get("authorization"); len(a) > 0 && a[0] == "Bearer bad" {
			return nil, status.Error(codes.Unauthenticated, "Request had invalid authentication credentials.")
		}
		return handler(ctx, req)
	}})
	must(t, f.tr.RegisterService(&schedulerpb.CloudScheduler_ServiceDesc, f.sched))
	must(t, f.tr.RegisterService(&credentialspb.IAMCredentials_ServiceDesc, f.creds))
	adminDesc, err := ServiceDescByName("google.iam.admin.v1.IAM", f.iam)
	must(t, err)
	must(t, f.tr.RegisterService(adminDesc, f.iam))
	must(t, f.tr.RegisterService(&resourcemanagerpb.Projects_ServiceDesc, f.projects))
	// gcloud's `projects get-iam-policy` speaks Resource Manager v1, which
	// no compiled proto describes: alias it onto v3.
	must(t, f.tr.AddRule("/google.cloud.resourcemanager.v3.Projects/GetIamPolicy", &annotations.HttpRule{
		Pattern: &annotations.HttpRule_Post{Post: "/v1/{resource=projects/*}:getIamPolicy"}, Body: "*",
	}))
	f.ts = httptest.NewServer(f.tr)
	t.Cleanup(f.ts.Close)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
