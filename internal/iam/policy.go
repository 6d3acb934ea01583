package iam

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EmptyPolicyEtag is the etag Google returns for a policy that was never set
// ("ACAB" in base64).
var EmptyPolicyEtag = []byte{0x00, 0x20, 0x01}

// EmptyPolicy is what getIamPolicy returns for a resource without a policy.
func EmptyPolicy() *iampb.Policy {
	return &iampb.Policy{Version: 1, Etag: slices.Clone(EmptyPolicyEtag)}
}

// Google's limits on the principals one policy may name (reference §5.1).
const (
	MaxPolicyMembers = 1500
	MaxPolicyGroups  = 250
)

// Conditional reports whether b has a condition: an all-empty one counts as
// none, as everywhere in this package.
func Conditional(b *iampb.Binding) bool { return conditionOf(b) != nil }

// conditionOf returns the binding's condition, treating an all-empty Expr
// (what `"condition": {}` decodes to) as no condition at all.
func conditionOf(b *iampb.Binding) *expr.Expr {
	c := b.GetCondition()
	if c == nil || (c.GetTitle() == "" && c.GetDescription() == "" && c.GetExpression() == "" && c.GetLocation() == "") {
		return nil
	}
	return c
}

// canonicalMember is the canonical spelling of m, or m itself when it does
// not parse (ValidatePolicy reports those).
func canonicalMember(m string) string {
	pm, err := ParseMember(m)
	if err != nil {
		return m
	}
	return pm.String()
}

type bindingKey struct {
	role                                     string
	conditional                              bool
	title, description, expression, location string
}

func keyOf(b *iampb.Binding) bindingKey {
	k := bindingKey{role: b.GetRole()}
	if c := conditionOf(b); c != nil {
		k.conditional = true
		k.title, k.description, k.expression, k.location = c.GetTitle(), c.GetDescription(), c.GetExpression(), c.GetLocation()
	}
	return k
}

func compareKeys(a, b bindingKey) int {
	if c := cmp.Compare(a.role, b.role); c != 0 {
		return c
	}
	if a.conditional != b.conditional {
		if !a.conditional {
			return -1
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(a.title, b.title),
		cmp.Compare(a.expression, b.expression),
		cmp.Compare(a.description, b.description),
		cmp.Compare(a.location, b.location),
	)
}

// NormalizePolicy returns the canonical form of p, leaving p untouched:
// bindings with the same role and condition merged, members canonical,
// deduplicated and sorted, empty bindings dropped, bindings sorted by role
// (unconditional first), audit configs merged per service; version 3 when a
// condition remains, 1 otherwise; no etag.
func NormalizePolicy(p *iampb.Policy) *iampb.Policy {
	out := &iampb.Policy{Version: 1}
	merged := map[bindingKey]*iampb.Binding{}
	var keys []bindingKey
	for _, b := range p.GetBindings() {
		k := keyOf(b)
		nb, ok := merged[k]
		if !ok {
			nb = &iampb.Binding{Role: k.role}
			if k.conditional {
				nb.Condition = &expr.Expr{Title: k.title, Description: k.description, Expression: k.expression, Location: k.location}
			}
			merged[k] = nb
			keys = append(keys, k)
		}
		for _, m := range b.GetMembers() {
			nb.Members = append(nb.Members, canonicalMember(m))
		}
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		b := merged[k]
		if len(b.Members) == 0 {
			continue
		}
		slices.Sort(b.Members)
		b.Members = slices.Compact(b.Members)
		if k.conditional {
			out.Version = 3
		}
		out.Bindings = append(out.Bindings, b)
	}
	out.AuditConfigs = normalizeAuditConfigs(p.GetAuditConfigs())
	return out
}

func normalizeAuditConfigs(in []*iampb.AuditConfig) []*iampb.AuditConfig {
	byService := map[string]map[iampb.AuditLogConfig_LogType][]string{}
	var services []string
	for _, ac := range in {
		s := ac.GetService()
		logs, ok := byService[s]
		if !ok {
			logs = map[iampb.AuditLogConfig_LogType][]string{}
			byService[s] = logs
			services = append(services, s)
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			ms := logs[lc.GetLogType()]
			if ms == nil {
				ms = []string{}
			}
			for _, m := range lc.GetExemptedMembers() {
				ms = append(ms, canonicalMember(m))
			}
			logs[lc.GetLogType()] = ms
		}
	}
	slices.Sort(services)
	var out []*iampb.AuditConfig
	for _, s := range services {
		ac := &iampb.AuditConfig{Service: s}
		logs := byService[s]
		types := make([]iampb.AuditLogConfig_LogType, 0, len(logs))
		for t := range logs {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			ms := logs[t]
			slices.Sort(ms)
			ms = slices.Compact(ms)
			if len(ms) == 0 {
				ms = nil
			}
			ac.AuditLogConfigs = append(ac.AuditLogConfigs, &iampb.AuditLogConfig{LogType: t, ExemptedMembers: ms})
		}
		out = append(out, ac)
	}
	return out
}

// ComputeEtag derives a policy's etag from its normalised content, so two
// policies that mean the same have the same etag and any change in meaning
// changes it. It is 8 bytes starting 0x07, shaped like Google's ("Bw...").
// The encoding is written out by hand, not taken from proto marshalling,
// so stored etags stay valid across protobuf library versions.
func ComputeEtag(p *iampb.Policy) []byte {
	n := NormalizePolicy(p)
	h := sha256.New()
	var buf []byte
	str := func(s string) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		h.Write(buf)
		h.Write([]byte(s))
	}
	num := func(v uint64) {
		buf = binary.AppendUvarint(buf[:0], v)
		h.Write(buf)
	}
	str("oidcron.iam.policy/1")
	num(uint64(n.GetVersion()))
	num(uint64(len(n.GetBindings())))
	for _, b := range n.GetBindings() {
		str(b.GetRole())
		if c := b.GetCondition(); c != nil {
			num(1)
			str(c.GetTitle())
			str(c.GetDescription())
			str(c.GetExpression())
			str(c.GetLocation())
		} else {
			num(0)
		}
		num(uint64(len(b.GetMembers())))
		for _, m := range b.GetMembers() {
			str(m)
		}
	}
	num(uint64(len(n.GetAuditConfigs())))
	for _, ac := range n.GetAuditConfigs() {
		str(ac.GetService())
		num(uint64(len(ac.GetAuditLogConfigs())))
		for _, lc := range ac.GetAuditLogConfigs() {
			num(uint64(lc.GetLogType()))
			num(uint64(len(lc.GetExemptedMembers())))
			for _, m := range lc.GetExemptedMembers() {
				str(m)
			}
		}
	}
	sum := h.Sum(nil)
	etag := make([]byte, 8)
	etag[0] = 0x07
	copy(etag[1:], sum[:7])
	return etag
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// ValidateRequestedVersion checks GetPolicyOptions.requested_policy_version.
func ValidateRequestedVersion(v int32) error {
	switch v {
	case 0, 1, 3:
		return nil
	}
	return invalid("Requested policy version (%d) is invalid. Valid versions are 0, 1, and 3.", v)
}

// ValidatePolicy checks a policy sent to setIamPolicy on a resource of kind
// k, with Google's INVALID_ARGUMENT messages where they are known.
func ValidatePolicy(k Kind, p *iampb.Policy) error {
	if p == nil {
		return invalid("policy: the field is required.")
	}
	switch k {
	case KindRoot, KindProject, KindServiceAccount, KindFunction, KindService:
	case KindJob:
		return invalid("Cloud Scheduler jobs do not have IAM policies; grant Cloud Scheduler roles on the project instead.")
	default:
		return invalid("A resource of kind %s does not have an IAM policy.", k)
	}
	switch v := p.GetVersion(); v {
	case 0, 1, 3:
	default:
		return invalid("Specified policy version (%d) is invalid. Valid versions are 0, 1, and 3.", v)
	}
	for i, b := range p.GetBindings() {
		role := b.GetRole()
		if role == "" {
			return invalid("bindings[%d].role: the field is required; name a role such as roles/viewer.", i)
		}
		if _, ok := roles[role]; !ok {
			return invalid("Role (%s) does not exist in the resource's hierarchy.", role)
		}
		if !RoleSupportedOn(role, k) {
			return invalid("Role %s is not supported for this resource.", role)
		}
		if c := conditionOf(b); c != nil {
			if v := p.GetVersion(); v != 3 {
				return invalid("Conditional role bindings require policy version 3, but the policy has version %d (binding for role %s). For more information, please refer to https://cloud.google.com/iam/docs/policies#versions", v, role)
			}
			if c.GetTitle() == "" {
				return invalid("The condition of the binding for role %s has no title; an IAM condition needs a title and an expression.", role)
			}
			if c.GetExpression() == "" {
				return invalid("The condition of the binding for role %s has no expression; an IAM condition needs a title and an expression.", role)
			}
		}
		for _, m := range b.GetMembers() {
			pm, err := ParseMember(m)
			if err != nil {
				return memberInvalid(err, fmt.Sprintf("in the binding for role %s", role))
			}
			if pm.Type == TypeAllUsers || pm.Type == TypeAllAuthenticatedUsers {
				switch k {
				case KindProject:
					return invalid("Project does not support allUsers and allAuthenticatedUsers as members in a Binding of a Policy.")
				case KindRoot:
					return invalid("The installation root (%s) does not support allUsers and allAuthenticatedUsers as members in a Binding of a Policy.", RootResource)
				}
			}
		}
	}
	for i, ac := range p.GetAuditConfigs() {
		if ac.GetService() == "" {
			return invalid("auditConfigs[%d].service: the field is required; name a service such as cloudscheduler.googleapis.com, or allServices.", i)
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			switch lc.GetLogType() {
			case iampb.AuditLogConfig_ADMIN_READ, iampb.AuditLogConfig_DATA_WRITE, iampb.AuditLogConfig_DATA_READ:
			default:
				return invalid("The audit log config for service %s has log type %s; it must be ADMIN_READ, DATA_WRITE or DATA_READ.", ac.GetService(), lc.GetLogType())
			}
			for _, m := range lc.GetExemptedMembers() {
				if _, err := ParseMember(m); err != nil {
					return memberInvalid(err, fmt.Sprintf("among the exempted members of the audit config for service %s", ac.GetService()))
				}
			}
		}
	}
	members, groups := 0, 0
	for _, b := range NormalizePolicy(p).GetBindings() {
		members += len(b.GetMembers())
		for _, m := range b.GetMembers() {
			if pm, _ := ParseMember(m); pm.Type == TypeGroup || pm.DeletedType == TypeGroup {
				groups++
			}
		}
	}
	if members > MaxPolicyMembers {
		return invalid("The number of members in the policy (%s) is larger than the maximum allowed size %s.", thousands(members), thousands(MaxPolicyMembers))
	}
	if groups > MaxPolicyGroups {
		return invalid("The number of groups in the policy (%s) is larger than the maximum allowed size %s.", thousands(groups), thousands(MaxPolicyGroups))
	}
	return nil
}

func memberInvalid(err error, where string) error {
	me, ok := err.(*MemberError)
	if !ok {
		return invalid("Invalid member %s: %v.", where, err)
	}
	if me.NoType {
		return invalid(`Policy members must be of the form "<type>:<value>". Member %q %s has no type.`, me.Member, where)
	}
	end := "."
	if strings.HasSuffix(me.Rule, "?") {
		end = ""
	}
	return invalid("Invalid member %q %s: %s%s", me.Member, where, me.Rule, end)
}

// thousands writes n with comma separators, as Google's limit messages do.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}
