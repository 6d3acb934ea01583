package iam

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Subject is who is asking.
type Subject struct {
	Member    string // "user:EMAIL" or "serviceAccount:EMAIL"; empty when Anonymous
	Anonymous bool   // no credentials at all: matches only allUsers
	Disabled  bool   // a disabled service account: nothing is granted, and the decision says so
}

func (s Subject) String() string {
	if s.Anonymous {
		return "the unauthenticated caller"
	}
	return s.Member
}

// Node is one resource of an ancestry chain with its policy (nil when none
// was ever set).
type Node struct {
	Resource string
	Policy   *iampb.Policy
}

// PolicySource supplies policies; it is how the pure evaluator meets the store.
type PolicySource interface {
	// Ancestry returns the resource's own node and every ancestor up to
	// RootResource, nearest first: exactly the names Ancestors(resource) lists.
	Ancestry(ctx context.Context, resource string) ([]Node, error)
}

// Decision is the answer to one access question and why.
type Decision struct {
	Granted              bool
	Subject              Subject
	Permission, Resource string
	GrantedBy            *Grant              // the nearest binding that grants; nil if not granted
	Policies             []PolicyExplanation // one per node of the chain, nearest first
	Reason               string              // one line
}

// Grant names a binding that grants: the resource whose policy holds it, the
// role, and the member entry that covers the subject.
type Grant struct{ Resource, Role, Member string }

// PolicyExplanation describes one policy of the chain, as Policy
// Troubleshooter does.
type PolicyExplanation struct {
	Resource  string
	HasPolicy bool
	Bindings  []BindingExplanation
}

// BindingExplanation describes one binding with respect to the question.
type BindingExplanation struct {
	Role                 string
	RoleGrantsPermission bool
	Members              []string
	MatchedMember        string // the member entry covering the subject ("user:x", "allUsers", "domain:d"...); "" if none
	// Conditional bindings never grant: oidcron does not evaluate CEL, and
	// granting without evaluating would fail open.
	Conditional bool
}

// subjectIdentity returns the type and email a subject is matched by; typ is
// "" for an anonymous caller.
func subjectIdentity(sub Subject) (typ, email string, err error) {
	if sub.Anonymous {
		return "", "", nil
	}
	if sub.Member == "" {
		return "", "", fmt.Errorf("a subject without credentials must be marked Anonymous")
	}
	m, err := ParseMember(sub.Member)
	if err != nil {
		return "", "", err
	}
	if m.Type != TypeUser && m.Type != TypeServiceAccount {
		return "", "", fmt.Errorf("only user: and serviceAccount: principals make requests")
	}
	return m.Type, m.Value, nil
}

// memberSpecificity ranks the entries that can cover a subject so that the
// explanation names the most specific one: the principal itself, then its
// domain, then allAuthenticatedUsers, then allUsers.
func memberSpecificity(entry string) int {
	switch {
	case entry == TypeAllUsers:
		return 1
	case entry == TypeAllAuthenticatedUsers:
		return 2
	case strings.HasPrefix(entry, TypeDomain+":"):
		return 3
	}
	return 4
}

type bindingRef struct {
	node, binding int
}

// Evaluate decides whether sub holds permission on resource given the
// resource's ancestry chain (its own node first, then every ancestor up to
// the root). Effective access is the union of the chain's grants. Evaluate
// trusts the chain; Authorize is what checks it.
func Evaluate(sub Subject, permission, resource string, chain []Node) Decision {
	d := Decision{Subject: sub, Permission: permission, Resource: resource}
	typ, email, subjErr := subjectIdentity(sub)

	var grant, conditional, mismatch, authOnly *bindingRef
	d.Policies = make([]PolicyExplanation, len(chain))
	for i, n := range chain {
		bindings := n.Policy.GetBindings()
		pe := PolicyExplanation{Resource: n.Resource, HasPolicy: n.Policy != nil, Bindings: make([]BindingExplanation, len(bindings))}
		for j, b := range bindings {
			be := BindingExplanation{
				Role:                 b.GetRole(),
				RoleGrantsPermission: RoleGrants(b.GetRole(), permission),
				Members:              slices.Clone(b.GetMembers()),
				Conditional:          conditionOf(b) != nil,
			}
			if subjErr == nil {
				best := 0
				for _, m := range b.GetMembers() {
					if s := memberSpecificity(m); s > best && matchMember(m, typ, email) {
						be.MatchedMember, best = m, s
					}
				}
			}
			pe.Bindings[j] = be
			if !be.RoleGrantsPermission {
				continue
			}
			ref := &bindingRef{i, j}
			switch {
			case be.MatchedMember != "" && !be.Conditional:
				if grant == nil {
					grant = ref
				}
			case be.MatchedMember != "":
				if conditional == nil {
					conditional = ref
				}
			default:
				if mismatch == nil {
					mismatch = ref
				}
				if authOnly == nil && slices.Contains(be.Members, TypeAllAuthenticatedUsers) {
					authOnly = ref
				}
			}
		}
		d.Policies[i] = pe
	}

	describe := func(r *bindingRef) (role, member, on string) {
		be := d.Policies[r.node].Bindings[r.binding]
		return be.Role, be.MatchedMember, d.Policies[r.node].Resource
	}
	lacks := fmt.Sprintf("%s lacks permission %q on %s", sub.Member, permission, resource)

	switch {
	case subjErr != nil:
		d.Reason = fmt.Sprintf("invalid subject %q: %v; nothing is granted", sub.Member, subjErr)
	case !KnownPermission(permission):
		d.Reason = fmt.Sprintf("permission %q is unknown to oidcron: no role contains it, so no one holds it", permission)
	case sub.Disabled:
		d.Reason = fmt.Sprintf("%s is disabled: a disabled service account is granted nothing", sub)
		if grant != nil {
			role, member, on := describe(grant)
			d.Reason += fmt.Sprintf(" (enabled, it would be granted %q by %s to %s on %s)", permission, role, member, on)
		}
	case grant != nil:
		role, member, on := describe(grant)
		d.Granted = true
		d.GrantedBy = &Grant{Resource: on, Role: role, Member: member}
		d.Reason = fmt.Sprintf("granted by %s to %s on %s", role, member, on)
	case conditional != nil:
		role, member, on := describe(conditional)
		who := sub.Member
		if sub.Anonymous {
			who = "the unauthenticated caller"
			lacks = fmt.Sprintf("the unauthenticated caller lacks permission %q on %s", permission, resource)
		}
		d.Reason = fmt.Sprintf("%s: %s on %s would grant it to %s (covering %s), but only under a condition, and oidcron does not evaluate IAM conditions, so conditional bindings never grant",
			lacks, role, on, member, who)
	case sub.Anonymous && authOnly != nil:
		role, _, on := describe(authOnly)
		d.Reason = fmt.Sprintf("the caller presented no credentials: %s on %s grants %q to allAuthenticatedUsers, which covers authenticated callers only; an unauthenticated caller holds only what is granted to allUsers",
			role, on, permission)
	case sub.Anonymous:
		d.Reason = fmt.Sprintf("the caller presented no credentials, and no binding on %s or its ancestors grants a role containing %q to allUsers, the only member that covers unauthenticated callers",
			resource, permission)
	case mismatch != nil:
		role, _, on := describe(mismatch)
		d.Reason = fmt.Sprintf("%s: %s on %s contains it, but %s is not among the binding's members", lacks, role, on, sub.Member)
		if notes := unresolvedNotes(d.Policies); notes != "" {
			d.Reason += " (" + notes + ")"
		}
	default:
		d.Reason = lacks + ": no binding in its policy or its ancestors' grants a role containing it to this principal"
	}
	return d
}

// unresolvedNotes explains the members of relevant bindings that oidcron
// cannot match, so that "not a member" is not mistaken for a missing grant.
func unresolvedNotes(policies []PolicyExplanation) string {
	var group, deleted, federated bool
	for _, pe := range policies {
		for _, be := range pe.Bindings {
			if !be.RoleGrantsPermission || be.MatchedMember != "" {
				continue
			}
			for _, m := range be.Members {
				group = group || strings.HasPrefix(m, TypeGroup+":")
				deleted = deleted || strings.HasPrefix(m, TypeDeleted+":")
				federated = federated || strings.HasPrefix(m, TypePrincipal+":") || strings.HasPrefix(m, TypePrincipalSet+":")
			}
		}
	}
	var notes []string
	if group {
		notes = append(notes, "group membership is not resolved by oidcron, so group: members match no one")
	}
	if deleted {
		notes = append(notes, "deleted principals match nothing")
	}
	if federated {
		notes = append(notes, "principal: and principalSet: identities are not resolved by oidcron")
	}
	return strings.Join(notes, "; ")
}

// memberNote says why a member entry can never match a subject, or "".
func memberNote(m string) string {
	switch {
	case strings.HasPrefix(m, TypeGroup+":"):
		return "group membership is not resolved by oidcron"
	case strings.HasPrefix(m, TypeDeleted+":"):
		return "a deleted principal matches nothing"
	case strings.HasPrefix(m, TypePrincipal+":"), strings.HasPrefix(m, TypePrincipalSet+":"):
		return "federated identities are not resolved by oidcron"
	}
	return ""
}

// Authorize fetches the ancestry of resource from src and evaluates it. It is
// the only function in oidcron that decides access. A resource name iam does
// not know is granted nothing; a chain that is not the resource's ancestry
// is a bug in the source and an error.
func Authorize(ctx context.Context, src PolicySource, sub Subject, permission, resource string) (Decision, error) {
	chain, err := ancestry(ctx, src, resource)
	if err != nil {
		return Decision{Subject: sub, Permission: permission, Resource: resource, Reason: "the policies could not be read: " + err.Error()}, err
	}
	if chain == nil {
		return unknownResource(sub, permission, resource), nil
	}
	return Evaluate(sub, permission, resource, chain), nil
}

func unknownResource(sub Subject, permission, resource string) Decision {
	return Decision{Subject: sub, Permission: permission, Resource: resource,
		Reason: fmt.Sprintf("%q is not a resource name oidcron knows, so nothing is granted on it", resource)}
}

// ancestry returns nil, nil for a resource name outside the hierarchy.
func ancestry(ctx context.Context, src PolicySource, resource string) ([]Node, error) {
	want, err := Ancestors(resource)
	if err != nil {
		return nil, nil
	}
	chain, err := src.Ancestry(ctx, resource)
	if err != nil {
		return nil, err
	}
	got := make([]string, len(chain))
	for i, n := range chain {
		got[i] = n.Resource
	}
	if !slices.Equal(got, want) {
		return nil, status.Errorf(codes.Internal, "iam: the policy source returned the ancestry %q for %s; want %q", got, resource, want)
	}
	return chain, nil
}

// TestPermissions returns the subset of permissions sub holds on resource,
// in input order without repeats, reading the ancestry once. Permissions
// oidcron does not know are simply not held (Google's testIamPermissions
// fails open on unknown resources; oidcron fails closed on unknown
// permissions). Rejecting wildcards is the caller's job.
func TestPermissions(ctx context.Context, src PolicySource, sub Subject, resource string, permissions []string) ([]string, error) {
	if len(permissions) == 0 {
		return nil, nil
	}
	chain, err := ancestry(ctx, src, resource)
	if err != nil || chain == nil {
		return nil, err
	}
	var out []string
	for _, p := range permissions {
		if slices.Contains(out, p) {
			continue
		}
		if Evaluate(sub, p, resource, chain).Granted {
			out = append(out, p)
		}
	}
	return out, nil
}

// Explain renders the decision for people: the verdict, then each policy up
// the chain and, per binding, whether its role holds the permission and
// whether the principal is a member.
func (d Decision) Explain() string {
	var b strings.Builder
	if d.Granted {
		b.WriteString("GRANTED: ")
	} else {
		b.WriteString("DENIED: ")
	}
	b.WriteString(d.Reason)
	b.WriteString("\n")
	who := d.Subject.Member
	switch {
	case d.Subject.Anonymous:
		who = "(none: unauthenticated caller)"
	case d.Subject.Disabled:
		who += " (disabled)"
	}
	fmt.Fprintf(&b, "  principal:  %s\n  permission: %s\n  resource:   %s\n", who, d.Permission, d.Resource)
	if len(d.Policies) == 0 {
		return b.String()
	}
	b.WriteString("Policies, nearest first:\n")
	for _, pe := range d.Policies {
		switch {
		case !pe.HasPolicy:
			fmt.Fprintf(&b, "  %s: no policy set\n", pe.Resource)
			continue
		case len(pe.Bindings) == 0:
			fmt.Fprintf(&b, "  %s: policy has no bindings\n", pe.Resource)
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", pe.Resource)
		for _, be := range pe.Bindings {
			holds := "does not contain the permission"
			if be.RoleGrantsPermission {
				holds = "contains the permission"
			}
			member := "the principal is not a member"
			if be.MatchedMember != "" {
				member = "the principal is a member (as " + be.MatchedMember + ")"
			}
			fmt.Fprintf(&b, "    %s: %s; %s", be.Role, holds, member)
			if d.GrantedBy != nil && be.Role == d.GrantedBy.Role && pe.Resource == d.GrantedBy.Resource && be.MatchedMember == d.GrantedBy.Member && !be.Conditional {
				b.WriteString(" <- grants")
			}
			b.WriteString("\n")
			if be.Conditional {
				b.WriteString("      conditional binding: oidcron does not evaluate IAM conditions, so it never grants\n")
			}
			const shown = 10
			ms := be.Members
			more := ""
			if len(ms) > shown {
				more = fmt.Sprintf(", and %d more", len(ms)-shown)
				ms = ms[:shown]
			}
			list := strings.Join(ms, ", ")
			if list == "" {
				list = "(none)"
			}
			fmt.Fprintf(&b, "      members: %s%s\n", list, more)
			if be.RoleGrantsPermission && be.MatchedMember == "" {
				for _, m := range be.Members {
					if note := memberNote(m); note != "" {
						fmt.Fprintf(&b, "      %s: %s\n", m, note)
					}
				}
			}
		}
	}
	return b.String()
}
