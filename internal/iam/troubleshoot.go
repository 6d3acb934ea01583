package iam

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
)

// Policy Troubleshooter's vocabulary (google.cloud.policytroubleshooter.v1),
// spelled as its JSON spells the enums.

// AccessState says whether a principal holds a permission: overall, through
// one policy, or through one binding.
type AccessState string

const (
	Granted            AccessState = "GRANTED"
	NotGranted         AccessState = "NOT_GRANTED"
	UnknownConditional AccessState = "UNKNOWN_CONDITIONAL"
	// UnknownInfoDenied: the caller may not read every policy the answer
	// depends on.
	UnknownInfoDenied AccessState = "UNKNOWN_INFO_DENIED"
)

// Relevance is Google's heuristic: HIGH when changing the data point is
// likely to change the determination, NORMAL otherwise.
type Relevance string

const (
	RelevanceNormal Relevance = "NORMAL"
	RelevanceHigh   Relevance = "HIGH"
)

// Membership says whether one member entry of a binding covers the
// principal.
type Membership string

const (
	MembershipIncluded    Membership = "MEMBERSHIP_INCLUDED"
	MembershipNotIncluded Membership = "MEMBERSHIP_NOT_INCLUDED"
	// MembershipUnsupported marks entries oidcron cannot resolve (group:,
	// principal:, principalSet:): they match no one here.
	MembershipUnsupported Membership = "MEMBERSHIP_UNKNOWN_UNSUPPORTED"
)

// Troubleshooting is an access question answered as Policy Troubleshooter
// answers it: the decision, and each policy of the chain with its bindings
// annotated.
type Troubleshooting struct {
	Decision Decision
	// Chain is the ancestry the decision was made on (nearest first); its
	// policies are the ones Policies describe, index for index, so callers
	// can show each policy as it is stored.
	Chain  []Node
	Access AccessState
	// Policies has one entry per node of Chain.
	Policies []TroubleshotPolicy
	// Notes say where the answer depends on what oidcron does not do
	// (conditions, groups), or why it differs from what the policies alone
	// say (a disabled account, an unknown permission).
	Notes []Note
}

// TroubleshotPolicy is one policy of the chain. A policy the caller may not
// read carries only Resource and Access (UnknownInfoDenied).
type TroubleshotPolicy struct {
	Resource  string
	Readable  bool
	Access    AccessState
	Relevance Relevance // "" when not readable
	Bindings  []TroubleshotBinding
}

// TroubleshotBinding annotates one binding, in policy order.
type TroubleshotBinding struct {
	BindingExplanation
	Access                  AccessState
	Relevance               Relevance
	RolePermissionRelevance Relevance
	Memberships             []AnnotatedMember // one per member entry, in binding order
}

// AnnotatedMember is one member entry of a binding and whether it covers the
// principal.
type AnnotatedMember struct {
	Member     string
	Membership Membership
	Relevance  Relevance
}

// Note is a remark on the answer, with the status code it is reported
// under.
type Note struct {
	Code    codes.Code
	Message string
}

// MemberIncludes tells whether the member entry of a binding covers sub.
func MemberIncludes(entry string, sub Subject) Membership {
	if memberNote(entry) != "" && !strings.HasPrefix(entry, TypeDeleted+":") {
		return MembershipUnsupported
	}
	typ, email, err := subjectIdentity(sub)
	if err == nil && matchMember(entry, typ, email) {
		return MembershipIncluded
	}
	return MembershipNotIncluded
}

// Troubleshoot reads the ancestry of resource from src, decides as Authorize
// does, and annotates the answer. readable reports whether the caller may
// read the policy of a resource of the chain: a policy it may not read is
// shown as UNKNOWN_INFO_DENIED, and when the answer could hinge on it the
// overall answer is UNKNOWN_INFO_DENIED too, so nothing hidden leaks.
//
// The overall answer is oidcron's decision: GRANTED only when a policy the
// caller can read grants, and NOT_GRANTED for a binding that would grant
// only under a condition (oidcron never evaluates one) or for a disabled
// account; Notes say so.
func Troubleshoot(ctx context.Context, src PolicySource, sub Subject, permission, resource string, readable func(resource string) bool) (Troubleshooting, error) {
	chain, err := ancestry(ctx, src, resource)
	if err != nil {
		return Troubleshooting{}, err
	}
	if chain == nil {
		d := unknownResource(sub, permission, resource)
		return Troubleshooting{Decision: d, Access: NotGranted, Notes: []Note{{codes.InvalidArgument, d.Reason}}}, nil
	}
	return annotate(Evaluate(sub, permission, resource, chain), chain, readable), nil
}

// annotate derives the troubleshooter's view from a decision over chain.
func annotate(d Decision, chain []Node, readable func(string) bool) Troubleshooting {
	t := Troubleshooting{Decision: d, Chain: chain, Policies: make([]TroubleshotPolicy, len(d.Policies))}
	hidden, visibleGrant := false, false
	for i, pe := range d.Policies {
		tp := TroubleshotPolicy{Resource: pe.Resource, Readable: readable == nil || readable(pe.Resource)}
		if !tp.Readable {
			tp.Access = UnknownInfoDenied
			hidden = true
			t.Policies[i] = tp
			continue
		}
		tp.Access = NotGranted
		tp.Bindings = make([]TroubleshotBinding, len(pe.Bindings))
		for j, be := range pe.Bindings {
			tb := annotateBinding(be, d.Subject)
			switch {
			case tb.Access == Granted:
				tp.Access = Granted
			case tb.Access == UnknownConditional && tp.Access == NotGranted:
				tp.Access = UnknownConditional
			}
			tp.Bindings[j] = tb
		}
		visibleGrant = visibleGrant || tp.Access == Granted
		t.Policies[i] = tp
	}

	known := KnownPermission(d.Permission)
	switch {
	case d.Granted && visibleGrant:
		t.Access = Granted
	case d.Granted, hidden && known && !d.Subject.Disabled:
		// Granted by a policy the caller may not read, or not granted by
		// those it may read while a hidden one could grant.
		t.Access = UnknownInfoDenied
	default:
		t.Access = NotGranted
	}

	for i := range t.Policies {
		tp := &t.Policies[i]
		if !tp.Readable {
			continue
		}
		tp.Relevance = RelevanceNormal
		for j := range tp.Bindings {
			tb := &tp.Bindings[j]
			switch {
			case tb.Access == Granted || tb.Access == UnknownConditional:
				tb.Relevance = RelevanceHigh
			case tp.Access == Granted:
				tb.Relevance = RelevanceNormal // another binding decides
			case tb.RoleGrantsPermission:
				tb.Relevance = RelevanceHigh // adding the principal would grant
			default:
				tb.Relevance = RelevanceNormal
			}
			if t.Access == Granted && tp.Access == Granted ||
				t.Access != Granted && tb.RoleGrantsPermission {
				tp.Relevance = RelevanceHigh
			}
		}
	}
	t.Notes = notes(d, t.Policies, known)
	return t
}

// annotateBinding computes a binding's own access and its per-member and
// role relevance.
func annotateBinding(be BindingExplanation, sub Subject) TroubleshotBinding {
	tb := TroubleshotBinding{BindingExplanation: be, Access: NotGranted, RolePermissionRelevance: RelevanceNormal}
	if be.RoleGrantsPermission && be.MatchedMember != "" {
		tb.Access = Granted
		if be.Conditional {
			tb.Access = UnknownConditional
		}
	}
	if be.MatchedMember != "" {
		tb.RolePermissionRelevance = RelevanceHigh // the role alone decides
	}
	tb.Memberships = make([]AnnotatedMember, len(be.Members))
	for k, m := range be.Members {
		am := AnnotatedMember{Member: m, Membership: MemberIncludes(m, sub), Relevance: RelevanceNormal}
		// When the role holds the permission, membership decides: the
		// entries that cover the principal, or, when none does, all of
		// them.
		if be.RoleGrantsPermission && (am.Membership == MembershipIncluded || be.MatchedMember == "") {
			am.Relevance = RelevanceHigh
		}
		tb.Memberships[k] = am
	}
	return tb
}

// notes explains what the annotations alone do not.
func notes(d Decision, policies []TroubleshotPolicy, known bool) []Note {
	var out []Note
	if !known {
		out = append(out, Note{codes.NotFound, d.Reason})
	}
	if d.Subject.Disabled {
		out = append(out, Note{codes.FailedPrecondition, fmt.Sprintf("%s is disabled: a disabled service account is granted nothing.", d.Subject.Member)})
	}
	seen := map[string]bool{}
	for _, tp := range policies {
		for _, tb := range tp.Bindings {
			if tb.Access == UnknownConditional {
				out = append(out, Note{codes.Unimplemented, fmt.Sprintf(
					"The binding of %s on %s would grant %q to %s under its condition, but oidcron does not evaluate IAM conditions: conditional bindings never grant.",
					tb.Role, tp.Resource, d.Permission, tb.MatchedMember)})
			}
			if !tb.RoleGrantsPermission || tb.MatchedMember != "" {
				continue
			}
			for _, m := range tb.Members {
				n := memberNote(m)
				if n == "" || seen[m] {
					continue
				}
				seen[m] = true
				code := codes.Unimplemented
				if strings.HasPrefix(m, TypeDeleted+":") {
					code = codes.NotFound
				} else {
					n += ", so it matches no one"
				}
				out = append(out, Note{code, fmt.Sprintf("%s in the binding of %s on %s: %s.", m, tb.Role, tp.Resource, n)})
			}
		}
	}
	return out
}
