package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	pt "google.golang.org/api/policytroubleshooter/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// Policy Troubleshooter v1 (google.cloud.policytroubleshooter.v1.IamChecker
// TroubleshootIamPolicy), served over REST as Google's front end serves it:
// POST /v1/iam:troubleshoot. No compiled descriptor of the service is a
// dependency, so the JSON shapes are the REST client library's own types.
//
// The answer is iam.Troubleshoot's: the decision iam.Authorize would make,
// with each policy from the resource up to the root annotated. The caller
// sees a policy only where it may read it (the getIamPolicy permission of
// the resource's service); elsewhere the policy is UNKNOWN_INFO_DENIED, as on
// Google. The installation's root policy (//oidcron, in the organization's
// place) is shown to whoever may read the policy of the project below it.

// TroubleshootPath is the REST path of TroubleshootIamPolicy.
const TroubleshootPath = "/v1/iam:troubleshoot"

const troubleshootMethod = "/google.cloud.policytroubleshooter.v1.IamChecker/TroubleshootIamPolicy"

// HandleTroubleshoot mounts POST /v1/iam:troubleshoot.
func (s *Server) HandleTroubleshoot(mux *http.ServeMux) {
	mux.HandleFunc("POST "+TroubleshootPath, s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		at, err := decodeAccessTuple(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		return s.troubleshoot(ctx, at)
	}, troubleshootMethod))
}

// decodeAccessTuple reads the request body strictly: unknown names are
// refused in Google's words, and both JSON spellings (lowerCamelCase and
// the proto's snake_case) are accepted, as Google's front end does.
func decodeAccessTuple(body io.Reader) (*pt.GoogleCloudPolicytroubleshooterV1AccessTuple, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, invalid("Invalid JSON payload received. %v.", err)
	}
	at := &pt.GoogleCloudPolicytroubleshooterV1AccessTuple{}
	if len(bytes.TrimSpace(data)) == 0 {
		return at, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, invalid("Invalid JSON payload received. %v.", err)
	}
	for _, k := range sortedNames(top) {
		if k != "accessTuple" && k != "access_tuple" {
			return nil, invalid("Invalid JSON payload received. Unknown name %q: Cannot find field.", k)
		}
	}
	raw, ok := top["accessTuple"]
	if !ok {
		raw = top["access_tuple"]
	}
	if len(raw) == 0 || string(raw) == "null" {
		return at, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, invalid("Invalid value at 'access_tuple' (type.googleapis.com/google.cloud.policytroubleshooter.v1.AccessTuple), %s", raw)
	}
	for _, k := range sortedNames(fields) {
		var dst *string
		var field string
		switch k {
		case "principal":
			dst, field = &at.Principal, "principal"
		case "fullResourceName", "full_resource_name":
			dst, field = &at.FullResourceName, "full_resource_name"
		case "permission":
			dst, field = &at.Permission, "permission"
		default:
			return nil, invalid("Invalid JSON payload received. Unknown name %q at 'access_tuple': Cannot find field.", k)
		}
		if string(fields[k]) == "null" {
			continue
		}
		if err := json.Unmarshal(fields[k], dst); err != nil {
			return nil, invalid("Invalid value at 'access_tuple.%s' (TYPE_STRING), %s", field, fields[k])
		}
	}
	return at, nil
}

func sortedNames(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// permissionRule is the shape of an IAM permission: service.resource.verb.
var permissionRule = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*\.[a-zA-Z][a-zA-Z0-9]*$`)

// troubleshootTarget is the resource of an access tuple, resolved.
type troubleshootTarget struct {
	kind      iam.Kind
	canonical string // the name policies are stored under
	project   string // the project id (as given when the project does not exist)
	exists    bool
}

// The full resource names oidcron hosts, by kind.
var fullNamePrefix = map[iam.Kind]string{
	iam.KindProject:        "//cloudresourcemanager.googleapis.com/",
	iam.KindServiceAccount: "//iam.googleapis.com/",
	iam.KindFunction:       "//cloudfunctions.googleapis.com/",
	iam.KindService:        "//run.googleapis.com/",
	iam.KindJob:            "//cloudscheduler.googleapis.com/",
}

// FullResourceName is the full resource name of a canonical resource name
// ("projects/p" -> "//cloudresourcemanager.googleapis.com/projects/p"); the
// root is "//oidcron".
func FullResourceName(resource string) string {
	if p, ok := fullNamePrefix[iam.KindOf(resource)]; ok {
		return p + resource
	}
	return resource
}

const fullNameForms = "//cloudresourcemanager.googleapis.com/projects/PROJECT, " +
	"//iam.googleapis.com/projects/PROJECT/serviceAccounts/EMAIL, " +
	"//cloudfunctions.googleapis.com/projects/PROJECT/locations/LOCATION/functions/FUNCTION, " +
	"//run.googleapis.com/projects/PROJECT/locations/LOCATION/services/SERVICE or " +
	"//cloudscheduler.googleapis.com/projects/PROJECT/locations/LOCATION/jobs/JOB"

// resolveFullName parses a full resource name and finds the resource. A
// project may be named by number, an account by unique id.
func (s *Server) resolveFullName(ctx context.Context, full string) (troubleshootTarget, error) {
	bad := func() error {
		return invalid("access_tuple.full_resource_name: %q is not the full resource name of a resource oidcron hosts; expected %s.", full, fullNameForms)
	}
	var t troubleshootTarget
	for k, p := range fullNamePrefix {
		if rel, ok := strings.CutPrefix(full, p); ok && iam.KindOf(rel) == k {
			t.kind, t.canonical = k, rel
		}
	}
	if t.kind == iam.KindUnknown {
		return t, bad()
	}
	parts := strings.Split(t.canonical, "/")
	t.project = parts[1]
	if t.kind == iam.KindServiceAccount && t.project == "-" {
		sa, err := s.dir.ServiceAccount(ctx, parts[3])
		if errors.Is(err, store.ErrNotFound) {
			return t, nil
		}
		if err != nil {
			return t, internal(err)
		}
		t.project = sa.GetProjectId()
	}
	p, err := s.dir.Project(ctx, t.project)
	if errors.Is(err, store.ErrNotFound) {
		return t, nil
	}
	if err != nil {
		return t, internal(err)
	}
	pid := p.GetProjectId()
	t.project = pid
	switch t.kind {
	case iam.KindProject:
		t.canonical, t.exists = iam.ProjectResource(pid), true
	case iam.KindServiceAccount:
		sa, err := s.dir.ServiceAccount(ctx, parts[3])
		switch {
		case err == nil && sa.GetProjectId() == pid:
			t.canonical, t.exists = iam.ServiceAccountResource(pid, sa.GetEmail()), true
		case err == nil, errors.Is(err, store.ErrNotFound):
			t.canonical = iam.ServiceAccountResource(pid, parts[3])
		default:
			return t, internal(err)
		}
	case iam.KindFunction, iam.KindService:
		t.canonical = iam.LocationResource(pid, parts[3]) + "/" + parts[4] + "/" + parts[5]
		f, err := s.dir.Function(ctx, iam.FunctionResource(pid, parts[3], parts[5]))
		switch {
		case err == nil:
			t.exists = t.kind == iam.KindFunction || functions.IsGen2(f) // a service backs a 2nd gen function only
		case !errors.Is(err, store.ErrNotFound):
			return t, internal(err)
		}
	case iam.KindJob:
		t.canonical = iam.JobResource(pid, parts[3], parts[5])
		_, err := s.st.GetJob(ctx, t.canonical)
		switch {
		case err == nil:
			t.exists = true
		case !errors.Is(err, store.ErrNotFound):
			return t, internal(err)
		}
	}
	return t, nil
}

// policyReadPermission is the permission that reads the policy of a
// resource of kind k ("" for kinds without a policy of their own).
func policyReadPermission(k iam.Kind) string {
	switch k {
	case iam.KindProject:
		return "resourcemanager.projects.getIamPolicy"
	case iam.KindServiceAccount:
		return "iam.serviceAccounts.getIamPolicy"
	case iam.KindFunction:
		return "cloudfunctions.functions.getIamPolicy"
	case iam.KindService:
		return "run.services.getIamPolicy"
	}
	return ""
}

// troubleshootPrincipal reads access_tuple.principal: an email (a service
// account when it ends in .gserviceaccount.com, else a user), or a member
// with its user: or serviceAccount: prefix.
func troubleshootPrincipal(p string) (iam.Member, error) {
	if p == "" {
		return iam.Member{}, invalid("access_tuple.principal: required: the email of the principal to check, such as alice@example.com or my-sa@my-project.iam.gserviceaccount.com.")
	}
	member := p
	if !strings.Contains(p, ":") {
		typ := iam.TypeUser
		if strings.HasSuffix(strings.ToLower(p), ".gserviceaccount.com") {
			typ = iam.TypeServiceAccount
		}
		member = typ + ":" + p
	}
	m, err := iam.ParseMember(member)
	if err != nil {
		var me *iam.MemberError
		if errors.As(err, &me) {
			return m, invalid("access_tuple.principal: %q is invalid: %s", p, me.Rule)
		}
		return m, invalid("access_tuple.principal: %q is invalid: %v", p, err)
	}
	if m.Type != iam.TypeUser && m.Type != iam.TypeServiceAccount {
		return m, invalid("access_tuple.principal: %q is not supported: only Google Accounts (user:EMAIL) and service accounts (serviceAccount:EMAIL) can be checked.", p)
	}
	return m, nil
}

func (s *Server) troubleshoot(ctx context.Context, at *pt.GoogleCloudPolicytroubleshooterV1AccessTuple) (*pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse, error) {
	m, err := troubleshootPrincipal(at.Principal)
	if err != nil {
		return nil, err
	}
	switch {
	case at.Permission == "":
		return nil, invalid("access_tuple.permission: required: the IAM permission to check, such as cloudfunctions.functions.invoke.")
	case !permissionRule.MatchString(at.Permission):
		return nil, invalid("access_tuple.permission: %q is not a permission of the form SERVICE.RESOURCE.VERB, such as cloudfunctions.functions.invoke.", at.Permission)
	case at.FullResourceName == "":
		return nil, invalid("access_tuple.full_resource_name: required: the full resource name to check access to, such as %s.", fullNameForms)
	}
	t, err := s.resolveFullName(ctx, at.FullResourceName)
	if err != nil {
		return nil, err
	}

	chain, err := iam.Ancestors(t.canonical)
	if err != nil {
		return nil, internal(err)
	}
	readable := make(map[string]bool, len(chain))
	for _, r := range chain {
		k := iam.KindOf(r)
		switch perm := policyReadPermission(k); {
		case k == iam.KindJob:
			readable[r] = true // no policy of its own: nothing to hide
		case k == iam.KindRoot:
			// Decided below, from the project's.
		case t.exists:
			ok, err := s.holds(ctx, perm, r)
			if err != nil {
				return nil, err
			}
			readable[r] = ok
		}
	}
	readable[iam.RootResource] = readable[iam.ProjectResource(t.project)]

	if !t.exists {
		// A caller who may read the project's policies learns the resource
		// is missing; anyone else learns nothing.
		perm := policyReadPermission(t.kind)
		if t.kind == iam.KindJob {
			perm = "cloudscheduler.jobs.get"
		}
		ok, err := s.holds(ctx, perm, iam.ProjectResource(t.project))
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, status.Errorf(codes.NotFound, "Resource '%s' was not found.", at.FullResourceName)
		}
		out := &pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse{Access: string(iam.UnknownInfoDenied)}
		for _, r := range chain {
			if iam.KindOf(r) != iam.KindJob {
				out.ExplainedPolicies = append(out.ExplainedPolicies, &pt.GoogleCloudPolicytroubleshooterV1ExplainedPolicy{Access: string(iam.UnknownInfoDenied)})
			}
		}
		return out, nil
	}

	sub := iam.Subject{Member: m.String()}
	if m.Type == iam.TypeServiceAccount {
		// A disabled account is granted nothing; the caller learns it only
		// if it may see the account.
		sa, err := s.dir.ServiceAccount(ctx, m.Value)
		if err == nil && sa.GetDisabled() {
			ok, err := s.holds(ctx, "iam.serviceAccounts.get", iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()))
			if err != nil {
				return nil, err
			}
			sub.Disabled = ok
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, internal(err)
		}
	}
	ts, err := iam.Troubleshoot(ctx, s.dir, sub, at.Permission, t.canonical, func(r string) bool { return readable[r] })
	if err != nil {
		return nil, internal(err)
	}
	s.log.Debug("troubleshoot", "subject", SubjectFrom(ctx).Member, "principal", sub.Member, "permission", at.Permission, "resource", t.canonical, "access", ts.Access, "reason", ts.Decision.Reason)
	return troubleshootResponse(ts), nil
}

// holds reports whether the caller holds permission on resource.
func (s *Server) holds(ctx context.Context, permission, resource string) (bool, error) {
	d, err := iam.Authorize(ctx, s.dir, SubjectFrom(ctx), permission, resource)
	if err != nil {
		return false, internal(err)
	}
	return d.Granted, nil
}

// troubleshootResponse renders the annotations in the v1 JSON shape. A job
// has no policy of its own (Cloud Scheduler has no per-job IAM), so its
// node is left out, as Google lists only resources that carry policies.
func troubleshootResponse(ts iam.Troubleshooting) *pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse {
	out := &pt.GoogleCloudPolicytroubleshooterV1TroubleshootIamPolicyResponse{Access: string(ts.Access)}
	for i, tp := range ts.Policies {
		if iam.KindOf(tp.Resource) == iam.KindJob {
			continue
		}
		ep := &pt.GoogleCloudPolicytroubleshooterV1ExplainedPolicy{Access: string(tp.Access)}
		out.ExplainedPolicies = append(out.ExplainedPolicies, ep)
		if !tp.Readable {
			continue
		}
		stored := ts.Chain[i].Policy
		if stored == nil {
			stored = iam.EmptyPolicy()
		}
		ep.FullResourceName = FullResourceName(tp.Resource)
		ep.Policy = restPolicy(stored)
		ep.Relevance = string(tp.Relevance)
		for j, tb := range tp.Bindings {
			be := &pt.GoogleCloudPolicytroubleshooterV1BindingExplanation{
				Access: string(tb.Access), Role: tb.Role, Relevance: string(tb.Relevance),
				RolePermission: "ROLE_PERMISSION_NOT_INCLUDED", RolePermissionRelevance: string(tb.RolePermissionRelevance),
				Condition: restExpr(stored.GetBindings()[j]),
			}
			if tb.RoleGrantsPermission {
				be.RolePermission = "ROLE_PERMISSION_INCLUDED"
			}
			if len(tb.Memberships) > 0 {
				be.Memberships = make(map[string]pt.GoogleCloudPolicytroubleshooterV1BindingExplanationAnnotatedMembership, len(tb.Memberships))
				for _, am := range tb.Memberships {
					be.Memberships[am.Member] = pt.GoogleCloudPolicytroubleshooterV1BindingExplanationAnnotatedMembership{
						Membership: string(am.Membership), Relevance: string(am.Relevance),
					}
				}
			}
			ep.BindingExplanations = append(ep.BindingExplanations, be)
		}
	}
	for _, n := range ts.Notes {
		out.Errors = append(out.Errors, &pt.GoogleRpcStatus{Code: int64(n.Code), Message: n.Message})
	}
	return out
}

func restExpr(b *iampb.Binding) *pt.GoogleTypeExpr {
	c := b.GetCondition()
	if c == nil {
		return nil
	}
	return &pt.GoogleTypeExpr{Title: c.GetTitle(), Description: c.GetDescription(), Expression: c.GetExpression(), Location: c.GetLocation()}
}

// restPolicy is p in the REST shape getIamPolicy returns.
func restPolicy(p *iampb.Policy) *pt.GoogleIamV1Policy {
	out := &pt.GoogleIamV1Policy{Version: int64(p.GetVersion()), Etag: base64.StdEncoding.EncodeToString(p.GetEtag())}
	for _, b := range p.GetBindings() {
		out.Bindings = append(out.Bindings, &pt.GoogleIamV1Binding{Role: b.GetRole(), Members: b.GetMembers(), Condition: restExpr(b)})
	}
	for _, ac := range p.GetAuditConfigs() {
		rac := &pt.GoogleIamV1AuditConfig{Service: ac.GetService()}
		for _, lc := range ac.GetAuditLogConfigs() {
			rac.AuditLogConfigs = append(rac.AuditLogConfigs, &pt.GoogleIamV1AuditLogConfig{
				LogType: lc.GetLogType().String(), ExemptedMembers: lc.GetExemptedMembers(),
			})
		}
		out.AuditConfigs = append(out.AuditConfigs, rac)
	}
	return out
}
