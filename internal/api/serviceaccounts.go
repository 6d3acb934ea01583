package api

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// accountIDRule is Google's account_id rule: 6-30 characters, RFC 1035.
var accountIDRule = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)

// undeleteWindow is how long a deleted service account can be restored.
const undeleteWindow = 30 * 24 * time.Hour

// ServiceAccountEmail is the email of account id in a project.
func ServiceAccountEmail(accountID, projectID string) string {
	return accountID + "@" + projectID + ".iam.gserviceaccount.com"
}

// IAMAdmin implements google.iam.admin.v1.IAM (service accounts, their
// policies, and the predefined roles).
type IAMAdmin struct {
	adminpb.UnimplementedIAMServer
	s *Server
}

// parseSAName splits "projects/P/serviceAccounts/X".
func parseSAName(name string) (project, account string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "serviceAccounts" || parts[1] == "" || parts[3] == "" {
		return "", "", invalid("name: %q is not a service account name of the form projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}.", name)
	}
	return parts[1], parts[3], nil
}

// account resolves a service account name and checks the caller's
// permission on it. Like Google, a missing account named through the "-"
// project wildcard is a 403, not a 404.
func (s *Server) account(ctx context.Context, name, permission string) (*adminpb.ServiceAccount, error) {
	proj, acct, err := parseSAName(name)
	if err != nil {
		return nil, err
	}
	deny := func() error { return deniedIAM(permission) }
	projectID := ""
	if proj != "-" {
		p, err := s.project(ctx, proj)
		if errors.Is(err, store.ErrNotFound) {
			return nil, deny()
		}
		if err != nil {
			return nil, storeErr(err)
		}
		projectID = p.GetProjectId()
	}
	sa, err := s.dir.ServiceAccount(ctx, acct)
	if err == nil && projectID != "" && sa.GetProjectId() != projectID {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		if projectID == "" {
			return nil, deny()
		}
		if err := s.check(ctx, permission, iam.ProjectResource(projectID), deny); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.NotFound, "Unknown service account")
	}
	if err != nil {
		return nil, internal(err)
	}
	if err := s.check(ctx, permission, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()), deny); err != nil {
		return nil, err
	}
	return sa, nil
}

func (x *IAMAdmin) CreateServiceAccount(ctx context.Context, req *adminpb.CreateServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	p, err := x.s.projectFromName(ctx, req.GetName(), func() error { return deniedIAM("iam.serviceAccounts.create") })
	if err != nil {
		return nil, err
	}
	if err := x.s.check(ctx, "iam.serviceAccounts.create", iam.ProjectResource(p.GetProjectId()), func() error { return deniedIAM("iam.serviceAccounts.create") }); err != nil {
		return nil, err
	}
	id := req.GetAccountId()
	if n := len(id); n < 6 || n > 30 || !accountIDRule.MatchString(id) {
		return nil, invalid("account_id: %q is invalid: it must be 6 to 30 characters long, start with a lowercase letter, contain only lowercase letters, digits and hyphens, and not end with a hyphen.", id)
	}
	in := req.GetServiceAccount()
	if err := validateSAText(in.GetDisplayName(), in.GetDescription()); err != nil {
		return nil, err
	}
	email := ServiceAccountEmail(id, p.GetProjectId())
	var sa *adminpb.ServiceAccount
	err = x.s.write(ctx, func(tx store.Tx) error {
		for range 5 {
			uid := randomDigits("1", 21)
			sa = &adminpb.ServiceAccount{
				Name: "projects/" + p.GetProjectId() + "/serviceAccounts/" + email, ProjectId: p.GetProjectId(),
				UniqueId: uid, Email: email, DisplayName: in.GetDisplayName(), Description: in.GetDescription(),
				Oauth2ClientId: uid, Etag: []byte("01021920"), // Google's constant etag of a service account: "MDEwMjE5MjA=" in JSON
			}
			err := tx.CreateServiceAccount(ctx, sa)
			if errors.Is(err, store.ErrAlreadyExists) {
				if _, e := tx.GetServiceAccount(ctx, email); e == nil {
					return alreadyExists("", "projects/"+p.GetProjectId()+"/serviceAccounts/"+email,
						"Service account "+id+" already exists within project projects/"+p.GetProjectId()+".")
				}
				continue // unique id collision
			}
			return err
		}
		return errors.New("could not allocate a unique id")
	})
	if err != nil {
		return nil, storeErr(err)
	}
	x.s.log.Info("service account created", "email", email, "unique_id", sa.GetUniqueId(), "by", SubjectFrom(ctx).Member)
	return sa, nil
}

func validateSAText(displayName, description string) error {
	if len(displayName) > 100 || !utf8.ValidString(displayName) {
		return invalid("display_name: must be at most 100 bytes of UTF-8.")
	}
	if len(description) > 256 || !utf8.ValidString(description) {
		return invalid("description: must be at most 256 bytes of UTF-8.")
	}
	return nil
}

func (x *IAMAdmin) GetServiceAccount(ctx context.Context, req *adminpb.GetServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	return x.s.account(ctx, req.GetName(), "iam.serviceAccounts.get")
}

func (x *IAMAdmin) ListServiceAccounts(ctx context.Context, req *adminpb.ListServiceAccountsRequest) (*adminpb.ListServiceAccountsResponse, error) {
	deny := func() error { return deniedIAM("iam.serviceAccounts.list") }
	p, err := x.s.projectFromName(ctx, req.GetName(), deny)
	if err != nil {
		return nil, err
	}
	if err := x.s.check(ctx, "iam.serviceAccounts.list", iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), 20, 100)
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	// Ask for one more than the page so the last page carries no token.
	list, err := x.s.st.ListServiceAccounts(ctx, p.GetProjectId(), store.Page{Size: size + 1, After: after})
	if err != nil {
		return nil, internal(err)
	}
	accounts, next := pageOf(list, size, (*adminpb.ServiceAccount).GetEmail)
	return &adminpb.ListServiceAccountsResponse{Accounts: accounts, NextPageToken: next}, nil
}

func (x *IAMAdmin) PatchServiceAccount(ctx context.Context, req *adminpb.PatchServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	in := req.GetServiceAccount()
	sa, err := x.s.account(ctx, in.GetName(), "iam.serviceAccounts.update")
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, invalid("update_mask: the field is required.")
	}
	for _, p := range paths {
		if p != "display_name" && p != "description" {
			return nil, invalid("update_mask: field %q cannot be updated; only display_name and description can.", p)
		}
	}
	if err := validateSAText(in.GetDisplayName(), in.GetDescription()); err != nil {
		return nil, err
	}
	return x.s.modifyAccount(ctx, sa, func(next *adminpb.ServiceAccount) {
		for _, p := range paths {
			if p == "display_name" {
				next.DisplayName = in.GetDisplayName()
			} else {
				next.Description = in.GetDescription()
			}
		}
	})
}

// UpdateServiceAccount is the deprecated PUT that sets display_name only.
func (x *IAMAdmin) UpdateServiceAccount(ctx context.Context, in *adminpb.ServiceAccount) (*adminpb.ServiceAccount, error) {
	sa, err := x.s.account(ctx, in.GetName(), "iam.serviceAccounts.update")
	if err != nil {
		return nil, err
	}
	if err := validateSAText(in.GetDisplayName(), ""); err != nil {
		return nil, err
	}
	return x.s.modifyAccount(ctx, sa, func(next *adminpb.ServiceAccount) { next.DisplayName = in.GetDisplayName() })
}

// modifyAccount re-reads the account inside one transaction, applies
// change and writes it, so that concurrent changes (a disable racing a
// patch) are never lost to a stale read.
func (s *Server) modifyAccount(ctx context.Context, sa *adminpb.ServiceAccount, change func(*adminpb.ServiceAccount)) (*adminpb.ServiceAccount, error) {
	var next *adminpb.ServiceAccount
	err := s.write(ctx, func(tx store.Tx) error {
		cur, err := tx.GetServiceAccount(ctx, sa.GetUniqueId())
		if err != nil {
			return err
		}
		change(cur)
		next = cur
		return tx.UpdateServiceAccount(ctx, cur)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return next, nil
}

func (x *IAMAdmin) DeleteServiceAccount(ctx context.Context, req *adminpb.DeleteServiceAccountRequest) (*emptypb.Empty, error) {
	sa, err := x.s.account(ctx, req.GetName(), "iam.serviceAccounts.delete")
	if err != nil {
		return nil, err
	}
	live, gone := "serviceAccount:"+sa.GetEmail(), deletedMember(sa)
	err = x.s.write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteServiceAccount(ctx, sa.GetUniqueId(), x.s.clk.Now()); err != nil {
			return err
		}
		// As on Google, the account's grants become deleted:serviceAccount:
		// members, so that a new account with the same email inherits
		// nothing; and its own policy is set aside with it.
		if err := renameMember(ctx, tx, live, gone); err != nil {
			return err
		}
		return movePolicy(ctx, tx, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()), deletedPolicyKey(sa))
	})
	if err != nil {
		return nil, storeErr(err)
	}
	x.s.log.Info("service account deleted", "email", sa.GetEmail(), "unique_id", sa.GetUniqueId(), "by", SubjectFrom(ctx).Member)
	return &emptypb.Empty{}, nil
}

func (x *IAMAdmin) UndeleteServiceAccount(ctx context.Context, req *adminpb.UndeleteServiceAccountRequest) (*adminpb.UndeleteServiceAccountResponse, error) {
	_, uid, err := parseSAName(req.GetName())
	if err != nil {
		return nil, err
	}
	deny := func() error { return deniedIAM("iam.serviceAccounts.undelete") }
	sa, deletedAt, err := x.s.st.GetDeletedServiceAccount(ctx, uid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && x.s.clk.Now().Sub(deletedAt) > undeleteWindow) {
		return nil, deny()
	}
	if err != nil {
		return nil, internal(err)
	}
	if err := x.s.check(ctx, "iam.serviceAccounts.undelete", iam.ProjectResource(sa.GetProjectId()), deny); err != nil {
		return nil, err
	}
	err = x.s.write(ctx, func(tx store.Tx) error {
		if err := tx.UndeleteServiceAccount(ctx, uid); err != nil {
			return err
		}
		// Undeleted, the account gets its grants and its policy back.
		if err := renameMember(ctx, tx, deletedMember(sa), "serviceAccount:"+sa.GetEmail()); err != nil {
			return err
		}
		return movePolicy(ctx, tx, deletedPolicyKey(sa), iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()))
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, status.Errorf(codes.FailedPrecondition, "Service account %s cannot be undeleted: a live account now holds its email.", sa.GetEmail())
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return &adminpb.UndeleteServiceAccountResponse{RestoredAccount: sa}, nil
}

func (x *IAMAdmin) EnableServiceAccount(ctx context.Context, req *adminpb.EnableServiceAccountRequest) (*emptypb.Empty, error) {
	return x.s.setDisabled(ctx, req.GetName(), "iam.serviceAccounts.enable", false)
}

func (x *IAMAdmin) DisableServiceAccount(ctx context.Context, req *adminpb.DisableServiceAccountRequest) (*emptypb.Empty, error) {
	return x.s.setDisabled(ctx, req.GetName(), "iam.serviceAccounts.disable", true)
}

func (s *Server) setDisabled(ctx context.Context, name, permission string, disabled bool) (*emptypb.Empty, error) {
	sa, err := s.account(ctx, name, permission)
	if err != nil {
		return nil, err
	}
	if _, err := s.modifyAccount(ctx, sa, func(next *adminpb.ServiceAccount) { next.Disabled = disabled }); err != nil {
		return nil, err
	}
	s.log.Info("service account state changed", "email", sa.GetEmail(), "disabled", disabled, "by", SubjectFrom(ctx).Member)
	return &emptypb.Empty{}, nil
}

func (x *IAMAdmin) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	sa, err := x.s.account(ctx, req.GetResource(), "iam.serviceAccounts.getIamPolicy")
	if err != nil {
		return nil, err
	}
	return x.s.getPolicy(ctx, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()), req.GetOptions())
}

func (x *IAMAdmin) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	sa, err := x.s.account(ctx, req.GetResource(), "iam.serviceAccounts.setIamPolicy")
	if err != nil {
		return nil, err
	}
	// The account may be deleted (its policy moved aside with it) and
	// another created under its email before the write: that one must not
	// get this policy.
	still := func(tx store.Tx) error {
		now, err := tx.GetServiceAccount(ctx, sa.GetEmail())
		if errors.Is(err, store.ErrNotFound) || (err == nil && now.GetUniqueId() != sa.GetUniqueId()) {
			return status.Error(codes.NotFound, "Unknown service account")
		}
		return err
	}
	return x.s.setPolicy(ctx, iam.KindServiceAccount, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()), req, still)
}

func (x *IAMAdmin) TestIamPermissions(ctx context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	proj, acct, err := parseSAName(req.GetResource())
	if err != nil {
		return nil, err
	}
	sa, err := x.s.dir.ServiceAccount(ctx, acct)
	if err != nil {
		return &iampb.TestIamPermissionsResponse{}, nil
	}
	if proj != "-" && proj != sa.GetProjectId() {
		// The project by number names the account as well as by id.
		if p, err := x.s.dir.Project(ctx, proj); err != nil || p.GetProjectId() != sa.GetProjectId() {
			return &iampb.TestIamPermissionsResponse{}, nil
		}
	}
	return x.s.testPermissions(ctx, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()), req.GetPermissions())
}

// roleProto converts a catalogue role; full adds its permissions.
func roleProto(r *iam.Role, full bool) *adminpb.Role {
	out := &adminpb.Role{Name: r.Name, Title: r.Title, Description: r.Description, Stage: adminpb.Role_GA, Etag: []byte{0}} // Google shows predefined roles' etag as "AA=="
	if v, ok := adminpb.Role_RoleLaunchStage_value[r.Stage]; ok {
		out.Stage = adminpb.Role_RoleLaunchStage(v)
	}
	if full {
		out.IncludedPermissions = append([]string(nil), r.Permissions...)
	}
	return out
}

// ListRoles lists the predefined roles (no permission needed, as on Google).
func (x *IAMAdmin) ListRoles(ctx context.Context, req *adminpb.ListRolesRequest) (*adminpb.ListRolesResponse, error) {
	if req.GetParent() != "" {
		return nil, invalid("parent: custom roles are not supported by oidcron; leave parent empty to list predefined roles.")
	}
	size, err := pageSize(req.GetPageSize(), 300, 1000)
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &adminpb.ListRolesResponse{}
	for _, r := range iam.ListRoles() {
		if r.Name <= after {
			continue
		}
		if len(resp.Roles) == size {
			resp.NextPageToken = encodePageToken(resp.Roles[size-1].GetName())
			break
		}
		resp.Roles = append(resp.Roles, roleProto(r, req.GetView() == adminpb.RoleView_FULL))
	}
	return resp, nil
}

func (x *IAMAdmin) GetRole(ctx context.Context, req *adminpb.GetRoleRequest) (*adminpb.Role, error) {
	r, ok := iam.GetRole(req.GetName())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "The role named %s was not found.", req.GetName())
	}
	return roleProto(r, true), nil
}

// deletedMember is how Google writes a deleted account in policies.
func deletedMember(sa *adminpb.ServiceAccount) string {
	return "deleted:serviceAccount:" + sa.GetEmail() + "?uid=" + sa.GetUniqueId()
}

// deletedPolicyKey is where a deleted account's own policy waits for an
// undelete: under the root, by unique id, where no lookup finds it.
func deletedPolicyKey(sa *adminpb.ServiceAccount) string {
	return iam.RootResource + "/deletedServiceAccounts/" + sa.GetUniqueId()
}

// renameMember replaces member from with to in every policy, in tx.
func renameMember(ctx context.Context, tx store.Tx, from, to string) error {
	after := ""
	for {
		page, err := tx.ListPolicies(ctx, store.Page{Size: 500, After: after})
		if err != nil {
			return err
		}
		for _, rp := range page {
			after = rp.Resource
			changed := false
			for _, b := range rp.Policy.GetBindings() {
				for i, m := range b.GetMembers() {
					if strings.EqualFold(m, from) {
						b.Members[i], changed = to, true
					}
				}
			}
			if changed {
				p := iam.NormalizePolicy(rp.Policy)
				p.Etag = iam.ComputeEtag(p)
				if err := tx.PutPolicy(ctx, rp.Resource, p, nil); err != nil {
					return err
				}
			}
		}
		if len(page) < 500 {
			return nil
		}
	}
}

// movePolicy moves the policy stored at from to to (nothing if none).
func movePolicy(ctx context.Context, tx store.Tx, from, to string) error {
	p, err := tx.GetPolicy(ctx, from)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.PutPolicy(ctx, to, p, nil); err != nil {
		return err
	}
	return tx.DeletePolicy(ctx, from)
}
