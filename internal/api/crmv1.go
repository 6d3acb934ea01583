package api

import (
	"context"
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"strings"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/oidcron/oidcron/internal/api/rest"
)

// Resource Manager v1's project resource has a shape no compiled proto
// describes (projectNumber as a string, lifecycleState, name = display name),
// and gcloud speaks v1. These handlers render the v3 projects in that shape
// with the v1 client library's own types, so the JSON is Google's.

// HandleV1Projects mounts GET/POST /v1/projects and GET /v1/projects/{id}.
func (s *Server) HandleV1Projects(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/projects/{id}", s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		p, err := (&Projects{s: s}).GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + r.PathValue("id")})
		if err != nil {
			return nil, err
		}
		return v1Project(p), nil
	}, "/google.cloudresourcemanager.v1.Projects/Get"))
	mux.HandleFunc("GET /v1/projects", s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		match, err := v1ProjectFilter(r.URL.Query().Get("filter"))
		if err != nil {
			return nil, err
		}
		var size int64
		if raw := r.URL.Query().Get("pageSize"); raw != "" {
			if size, err = strconv.ParseInt(raw, 10, 32); err != nil {
				return nil, invalid("Invalid value at 'page_size' (TYPE_INT32), %q", raw)
			}
		}
		ps, next, err := s.visibleProjects(ctx, int32(size), r.URL.Query().Get("pageToken"))
		if err != nil {
			return nil, err
		}
		out := &crmv1.ListProjectsResponse{NextPageToken: next, Projects: []*crmv1.Project{}}
		for _, p := range ps {
			// Filtered after paging: a page may hold fewer than pageSize.
			if v := v1Project(p); match(v) {
				out.Projects = append(out.Projects, v)
			}
		}
		return out, nil
	}, "/google.cloudresourcemanager.v1.Projects/List"))
	mux.HandleFunc("POST /v1/projects", s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		var in crmv1.Project
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return nil, invalid("Invalid JSON payload received. %v", err)
		}
		p, op, err := s.createProjectChecked(ctx, in.ProjectId, in.Name, in.Labels)
		if err != nil {
			return nil, err
		}
		resp, _ := json.Marshal(v1Project(p))
		return &crmv1.Operation{Name: op.GetName(), Done: true, Response: resp}, nil
	}, "/google.cloudresourcemanager.v1.Projects/Create"))
}

// v1 adapts a handler to HTTP, authenticating through the same interceptor
// as every gRPC and transcoded call.
func (s *Server) v1(fn func(ctx context.Context, r *http.Request) (any, error), fullMethod string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := metadata.NewIncomingContext(r.Context(), rest.IncomingMetadata(r))
		resp, err := s.Interceptor(ctx, r, &grpc.UnaryServerInfo{FullMethod: fullMethod}, func(ctx context.Context, _ any) (any, error) {
			return fn(ctx, r)
		})
		if err != nil {
			rest.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		enc := json.NewEncoder(w)
		if r.URL.Query().Get("prettyPrint") != "false" {
			enc.SetIndent("", "  ")
		}
		_ = enc.Encode(resp)
	}
}

// v1Project renders a v3 project in the v1 shape.
func v1Project(p *resourcemanagerpb.Project) *crmv1.Project {
	state := "ACTIVE"
	if p.GetState() == resourcemanagerpb.Project_DELETE_REQUESTED {
		state = "DELETE_REQUESTED"
	}
	return &crmv1.Project{
		ProjectId: p.GetProjectId(), ProjectNumber: ProjectNumber(p), Name: p.GetDisplayName(),
		LifecycleState: state, Labels: p.GetLabels(),
		CreateTime: p.GetCreateTime().AsTime().UTC().Format("2006-01-02T15:04:05.000Z"), // v1 shows milliseconds
	}
}

// v1ProjectFilter reads the v1 list filter: space-separated terms, all of
// which must hold, each FIELD:VALUE or FIELD=VALUE over name, id,
// lifecycleState or labels.KEY; VALUE may use * as a wildcard and matches
// without regard to case. Anything else is refused, never ignored.
func v1ProjectFilter(f string) (func(*crmv1.Project) bool, error) {
	type term struct{ field, pattern string }
	var terms []term
	toks, err := filterTerms(f)
	if err != nil {
		return nil, err
	}
	for _, t := range toks {
		i := strings.IndexAny(t, ":=")
		if i <= 0 {
			return nil, invalid("filter: %q is not FIELD:VALUE or FIELD=VALUE.", t)
		}
		field, value := t[:i], strings.Trim(t[i+1:], `"`)
		switch {
		case field == "name", field == "id", field == "lifecycleState", strings.HasPrefix(field, "labels.") && len(field) > len("labels."):
		default:
			return nil, invalid("filter: field %q is not one of name, id, lifecycleState, labels.KEY.", field)
		}
		if _, err := path.Match(strings.ToLower(value), ""); err != nil {
			return nil, invalid("filter: bad pattern %q.", value)
		}
		terms = append(terms, term{field, strings.ToLower(value)})
	}
	return func(p *crmv1.Project) bool {
		for _, t := range terms {
			var v string
			switch t.field {
			case "name":
				v = p.Name
			case "id":
				v = p.ProjectId
			case "lifecycleState":
				v = p.LifecycleState
			default:
				v = p.Labels[strings.TrimPrefix(t.field, "labels.")]
			}
			if ok, _ := path.Match(t.pattern, strings.ToLower(v)); !ok {
				return false
			}
		}
		return true
	}, nil
}

// filterTerms splits a filter at spaces outside double quotes, so
// name:"my project" stays one term.
func filterTerms(f string) ([]string, error) {
	var terms []string
	var cur strings.Builder
	quoted := false
	for _, r := range f {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if cur.Len() > 0 {
				terms = append(terms, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if quoted {
		return nil, invalid("filter: unbalanced double quote in %q.", f)
	}
	if cur.Len() > 0 {
		terms = append(terms, cur.String())
	}
	return terms, nil
}
