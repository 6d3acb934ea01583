package api

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// ServiceAgentRole is the role Google grants the scheduler's agent.
const ServiceAgentRole = "roles/cloudscheduler.serviceAgent"

// ProjectNumber returns the number of a project ("projects/123" -> 123).
func ProjectNumber(p *resourcemanagerpb.Project) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(p.GetName(), "projects/"), 10, 64)
	return n
}

// Google's project id rule, enforced on explicit creation.
var projectIDRule = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// Dev mode creates projects on first reference; it accepts the short ids
// people type in examples ("p1", "demo") but nothing that could not appear
// in a resource name.
var devProjectIDRule = regexp.MustCompile(`^[a-z][-a-z0-9]{0,62}$`)

// createProject inserts a project with its initial policy: owner, and the
// Cloud Scheduler service agent bound to its role, as on Google Cloud.
func (s *Server) createProject(ctx context.Context, tx store.Tx, id, displayName string, labels map[string]string, owner string) (*resourcemanagerpb.Project, error) {
	now := timestamppb.New(s.clk.Now())
	for range 5 { // a 12-digit number collides rarely; retry then
		num := randomDigits("123456789", 12)
		p := &resourcemanagerpb.Project{
			Name: "projects/" + num, ProjectId: id, DisplayName: displayName, Labels: labels,
			State: resourcemanagerpb.Project_ACTIVE, CreateTime: now, UpdateTime: now, Etag: "W/\"" + num + "\"",
		}
		if p.DisplayName == "" {
			p.DisplayName = id
		}
		err := tx.CreateProject(ctx, p)
		if errors.Is(err, store.ErrAlreadyExists) {
			if _, e := tx.GetProject(ctx, id); e == nil {
				return nil, err
			}
			continue // the number collided
		}
		if err != nil {
			return nil, err
		}
		n := ProjectNumber(p)
		pol := &iampb.Policy{Bindings: []*iampb.Binding{
			{Role: "roles/owner", Members: []string{owner}},
			{Role: ServiceAgentRole, Members: []string{"serviceAccount:" + iam.SchedulerServiceAgent(n)}},
		}}
		pol = iam.NormalizePolicy(pol)
		pol.Etag = iam.ComputeEtag(pol)
		if err := tx.PutPolicy(ctx, iam.ProjectResource(id), pol, nil); err != nil {
			return nil, err
		}
		s.log.Info("project created", "project", id, "number", n, "owner", owner)
		return p, nil
	}
	return nil, errors.New("could not allocate a project number")
}

// project resolves a project by id or number. In dev mode a valid id seen
// for the first time creates the project, owned by the dev user. A missing
// project is store.ErrNotFound; callers answer it with their own denial, as
// Google does ("or it may not exist").
func (s *Server) project(ctx context.Context, idOrNumber string) (*resourcemanagerpb.Project, error) {
	p, err := s.dir.Project(ctx, idOrNumber)
	if err == nil || !errors.Is(err, store.ErrNotFound) || s.cfg.RequireAuth || !devProjectIDRule.MatchString(idOrNumber) {
		return p, err
	}
	err = s.write(ctx, func(tx store.Tx) error {
		if p, err = directory.LookupProject(ctx, tx, idOrNumber); err == nil {
			return nil
		}
		p, err = s.createProject(ctx, tx, idOrNumber, "", nil, DevUser)
		return err
	})
	return p, err
}

// projectFromName parses "projects/X" and resolves X.
func (s *Server) projectFromName(ctx context.Context, name string, deny func() error) (*resourcemanagerpb.Project, error) {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, invalid("name: %q is not a project name of the form projects/PROJECT_ID_OR_NUMBER.", name)
	}
	p, err := s.project(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deny()
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return p, nil
}

// Projects implements google.cloud.resourcemanager.v3.Projects.
type Projects struct {
	resourcemanagerpb.UnimplementedProjectsServer
	s *Server
}

func (x *Projects) GetProject(ctx context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	p, err := x.s.projectFromName(ctx, req.GetName(), deniedCRM)
	if err != nil {
		return nil, err
	}
	if err := x.s.check(ctx, "resourcemanager.projects.get", iam.ProjectResource(p.GetProjectId()), deniedCRM); err != nil {
		return nil, err
	}
	return p, nil
}

// visibleProjects pages through the projects the caller may get. The
// store pages by id; projects the caller may not see are skipped, so a page
// may need several reads.
func (s *Server) visibleProjects(ctx context.Context, n int32, pageToken string) ([]*resourcemanagerpb.Project, string, error) {
	size, err := pageSize(n, 500, 500)
	if err != nil {
		return nil, "", err
	}
	after, err := decodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	var out []*resourcemanagerpb.Project
	for {
		batch, err := s.st.ListProjects(ctx, store.Page{Size: size, After: after})
		if err != nil {
			return nil, "", internal(err)
		}
		for _, p := range batch {
			after = p.GetProjectId()
			if s.allowed(ctx, "resourcemanager.projects.get", iam.ProjectResource(p.GetProjectId())) {
				out = append(out, p)
				if len(out) == size {
					// Full: the next page starts after this project, even if
					// it turns out to be empty.
					return out, encodePageToken(after), nil
				}
			}
		}
		if len(batch) < size {
			return out, "", nil
		}
	}
}

func (x *Projects) SearchProjects(ctx context.Context, req *resourcemanagerpb.SearchProjectsRequest) (*resourcemanagerpb.SearchProjectsResponse, error) {
	ps, next, err := x.s.visibleProjects(ctx, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.SearchProjectsResponse{Projects: ps, NextPageToken: next}, nil
}

// ListProjects lists the children of a folder or organization. oidcron
// hosts neither, so every project is parentless and the list is empty; use
// SearchProjects (or the v1 list) to see every project.
func (x *Projects) ListProjects(ctx context.Context, req *resourcemanagerpb.ListProjectsRequest) (*resourcemanagerpb.ListProjectsResponse, error) {
	if !strings.HasPrefix(req.GetParent(), "folders/") && !strings.HasPrefix(req.GetParent(), "organizations/") {
		return nil, invalid("parent: must be of the form folders/{folder_id} or organizations/{organization_id}.")
	}
	return &resourcemanagerpb.ListProjectsResponse{}, nil
}

func (x *Projects) CreateProject(ctx context.Context, req *resourcemanagerpb.CreateProjectRequest) (*longrunningpb.Operation, error) {
	in := req.GetProject()
	_, op, err := x.s.createProjectChecked(ctx, in.GetProjectId(), in.GetDisplayName(), in.GetLabels())
	return op, err
}

// createProjectChecked is CreateProject for both API versions: the project,
// its policy and its finished operation are written in one transaction.
func (s *Server) createProjectChecked(ctx context.Context, id, displayName string, labels map[string]string) (*resourcemanagerpb.Project, *longrunningpb.Operation, error) {
	if !projectIDRule.MatchString(id) {
		return nil, nil, invalid("project_id: %q is invalid: a project ID must be 6 to 30 lowercase letters, digits, or hyphens, start with a letter, and not end with a hyphen.", id)
	}
	if len(displayName) > 30 {
		return nil, nil, invalid("display_name: must be at most 30 characters.")
	}
	if err := s.check(ctx, "resourcemanager.projects.create", iam.RootResource, deniedCRM); err != nil {
		return nil, nil, err
	}
	owner := SubjectFrom(ctx).Member
	var p *resourcemanagerpb.Project
	var op *longrunningpb.Operation
	err := s.write(ctx, func(tx store.Tx) error {
		var err error
		if p, err = s.createProject(ctx, tx, id, displayName, labels, owner); err != nil {
			return err
		}
		op, err = projectOperation(ctx, tx, p)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, nil, status.Error(codes.AlreadyExists, "Requested entity already exists")
	}
	if err != nil {
		return nil, nil, storeErr(err)
	}
	return p, op, nil
}

// projectOperation records, in tx, and returns the finished operation of a
// project creation.
func projectOperation(ctx context.Context, tx store.Tx, p *resourcemanagerpb.Project) (*longrunningpb.Operation, error) {
	resp, err := anypb.New(p)
	if err != nil {
		return nil, err
	}
	meta, err := anypb.New(&resourcemanagerpb.CreateProjectMetadata{CreateTime: p.GetCreateTime(), Gettable: true, Ready: true})
	if err != nil {
		return nil, err
	}
	op := &longrunningpb.Operation{
		Name: "operations/cp." + strings.TrimPrefix(p.GetName(), "projects/"), Done: true, Metadata: meta,
		Result: &longrunningpb.Operation_Response{Response: resp},
	}
	return op, tx.PutOperation(ctx, op)
}

func (x *Projects) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	p, err := x.s.projectFromName(ctx, req.GetResource(), deniedCRM)
	if err != nil {
		return nil, err
	}
	r := iam.ProjectResource(p.GetProjectId())
	if err := x.s.check(ctx, "resourcemanager.projects.getIamPolicy", r, deniedCRM); err != nil {
		return nil, err
	}
	return x.s.getPolicy(ctx, r, req.GetOptions())
}

func (x *Projects) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	p, err := x.s.projectFromName(ctx, req.GetResource(), deniedCRM)
	if err != nil {
		return nil, err
	}
	r := iam.ProjectResource(p.GetProjectId())
	if err := x.s.check(ctx, "resourcemanager.projects.setIamPolicy", r, deniedCRM); err != nil {
		return nil, err
	}
	return x.s.setPolicy(ctx, iam.KindProject, r, req, nil)
}

func (x *Projects) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	p, err := x.s.projectFromName(ctx, req.GetResource(), func() error { return errNoProject })
	if errors.Is(err, errNoProject) {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	return x.s.testPermissions(ctx, iam.ProjectResource(p.GetProjectId()), req.GetPermissions())
}

var errNoProject = errors.New("no such project")
