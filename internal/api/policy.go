package api

import (
	"context"
	"errors"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// The getIamPolicy / setIamPolicy / testIamPermissions logic every resource
// shares. Callers check the caller's permission first and pass the canonical
// resource name.

// readPolicy returns resource's policy as getIamPolicy shows it.
func readPolicy(ctx context.Context, tx store.Tx, resource string) (*iampb.Policy, error) {
	p, err := tx.GetPolicy(ctx, resource)
	if errors.Is(err, store.ErrNotFound) {
		return iam.EmptyPolicy(), nil // what Google returns for a policy never set
	}
	return p, err
}

// getPolicy answers getIamPolicy for resource.
func (s *Server) getPolicy(ctx context.Context, resource string, opts *iampb.GetPolicyOptions) (*iampb.Policy, error) {
	v := opts.GetRequestedPolicyVersion()
	if err := iam.ValidateRequestedVersion(v); err != nil {
		return nil, err
	}
	p, err := readPolicy(ctx, s.st, resource)
	if err != nil {
		return nil, internal(err)
	}
	if p.GetVersion() == 3 && v < 3 {
		return nil, invalid("The policy of %s has conditional role bindings; request it with options.requestedPolicyVersion set to 3.", resource)
	}
	return p, nil
}

// setPolicy answers setIamPolicy for resource of kind k: validate, normalise,
// then compare-and-swap on the etag the caller read, all in one transaction.
//
// still, when set, is checked inside the transaction: that the resource the
// caller resolved before it is still the one written (an account may be
// deleted, and another created under its email, meanwhile).
func (s *Server) setPolicy(ctx context.Context, k iam.Kind, resource string, req *iampb.SetIamPolicyRequest, still func(store.Tx) error) (*iampb.Policy, error) {
	in := req.GetPolicy()
	if in == nil {
		return nil, invalid("policy: the field is required.")
	}
	if err := iam.ValidatePolicy(k, in); err != nil {
		return nil, err
	}
	fields := map[string]bool{"bindings": true, "etag": true}
	if m := req.GetUpdateMask(); m != nil && len(m.GetPaths()) > 0 {
		fields = map[string]bool{}
		for _, p := range m.GetPaths() {
			switch p = strings.TrimSpace(p); p {
			case "bindings", "etag", "audit_configs", "version":
				fields[p] = true
			case "auditConfigs":
				fields["audit_configs"] = true
			default:
				return nil, invalid("update_mask: unknown Policy field %q; allowed: bindings, etag, audit_configs.", p)
			}
		}
	}
	if k == iam.KindProject && !hasOwner(in) && fields["bindings"] {
		return nil, invalid("policy: a project's policy must keep at least one owner (a binding of roles/owner with a user, service account or group).")
	}
	var out *iampb.Policy
	err := s.write(ctx, func(tx store.Tx) error {
		if still != nil {
			if err := still(tx); err != nil {
				return err
			}
		}
		if err := s.checkMembersExist(ctx, tx, in); err != nil {
			return err
		}
		cur, err := readPolicy(ctx, tx, resource)
		if err != nil {
			return err
		}
		if fields["bindings"] && len(in.GetEtag()) > 0 && in.GetVersion() < 3 && cur.GetVersion() == 3 {
			// A stored policy has version 3 exactly when it has conditions
			// (NormalizePolicy). Google: changing the bindings of such a
			// policy takes version 3; only a blind write (no etag) may
			// drop them.
			return invalid("The policy of %s has conditional role bindings; setting its bindings requires policy version 3, but the policy has version %d. For more information, please refer to https://cloud.google.com/iam/docs/policies#versions", resource, in.GetVersion())
		}
		next := proto.Clone(cur).(*iampb.Policy)
		if fields["bindings"] {
			next.Bindings = in.GetBindings()
		}
		if fields["audit_configs"] {
			next.AuditConfigs = in.GetAuditConfigs()
		}
		next = iam.NormalizePolicy(next)
		next.Etag = iam.ComputeEtag(next)
		var expect []byte
		if len(in.GetEtag()) > 0 {
			expect = in.GetEtag()
		}
		if err := tx.PutPolicy(ctx, resource, next, expect); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.log.Info("policy set", "resource", resource, "subject", SubjectFrom(ctx).Member, "bindings", len(out.GetBindings()))
	return out, nil
}

// checkMembersExist refuses bindings for service accounts of projects hosted
// here that do not exist, as Google does. Service agents
// (service-N@gcp-sa-*.iam.gserviceaccount.com) are Google-managed and always
// accepted.
func (s *Server) checkMembersExist(ctx context.Context, tx store.Tx, p *iampb.Policy) error {
	for _, b := range p.GetBindings() {
		for _, m := range b.GetMembers() {
			email, ok := strings.CutPrefix(m, "serviceAccount:")
			if !ok {
				continue
			}
			// Emails are compared case-insensitively (and stored lower-case):
			// ghost@ACME-PROD... is the same missing account.
			email = strings.ToLower(email)
			_, domain, _ := strings.Cut(email, "@")
			project, ok := strings.CutSuffix(domain, ".iam.gserviceaccount.com")
			if !ok || strings.HasPrefix(project, "gcp-sa-") {
				continue
			}
			if _, err := tx.GetProject(ctx, project); err != nil {
				continue // a project not hosted here: nothing to check against
			}
			if _, err := tx.GetServiceAccount(ctx, email); errors.Is(err, store.ErrNotFound) {
				return invalid("Service account %s does not exist.", email)
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

// testPermissions answers testIamPermissions: the subset of permissions the
// caller holds on resource. Like Google, an unknown resource yields an empty
// set, not NOT_FOUND.
func (s *Server) testPermissions(ctx context.Context, resource string, perms []string) (*iampb.TestIamPermissionsResponse, error) {
	for _, p := range perms {
		if strings.ContainsAny(p, "*") {
			return nil, invalid("Permission %s is not valid: wildcards are not allowed in testIamPermissions.", p)
		}
	}
	got, err := iam.TestPermissions(ctx, s.dir, SubjectFrom(ctx), s.dir.CanonicalResource(ctx, resource), perms)
	if err != nil {
		return nil, internal(err)
	}
	return &iampb.TestIamPermissionsResponse{Permissions: got}, nil
}

// hasOwner reports whether p grants roles/owner to a principal that can
// act (a project without one could never be administered again).
func hasOwner(p *iampb.Policy) bool {
	for _, b := range p.GetBindings() {
		if b.GetRole() != "roles/owner" || iam.Conditional(b) {
			continue
		}
		for _, m := range b.GetMembers() {
			if strings.HasPrefix(m, "user:") || strings.HasPrefix(m, "serviceAccount:") || strings.HasPrefix(m, "group:") {
				return true
			}
		}
	}
	return false
}
