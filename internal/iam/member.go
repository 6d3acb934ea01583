package iam

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Member types as they appear before the first colon of a policy member.
// Google treats them case-sensitively, and so does oidcron.
const (
	TypeUser                  = "user"
	TypeServiceAccount        = "serviceAccount"
	TypeGroup                 = "group"
	TypeDomain                = "domain"
	TypeAllUsers              = "allUsers"
	TypeAllAuthenticatedUsers = "allAuthenticatedUsers"
	TypeDeleted               = "deleted"
	TypePrincipal             = "principal"
	TypePrincipalSet          = "principalSet"
)

// Member is one principal identifier of a policy binding.
type Member struct {
	Type  string // one of the Type* constants
	Value string // email, domain, or the rest of a principal(Set) identifier ("//host/path"); "" for allUsers/allAuthenticatedUsers
	// For deleted:TYPE:EMAIL?uid=ID, the type the principal had (user,
	// serviceAccount or group) and its unique id; Value holds the email.
	DeletedType, UID string
}

// MemberError says why a member string is not a valid principal identifier.
type MemberError struct {
	Member string // the string as given
	Rule   string // the rule it breaks
	// NoType is set when the string has no "<type>:" prefix at all, the case
	// Google answers with its generic form message.
	NoType bool
}

func (e *MemberError) Error() string {
	return fmt.Sprintf("invalid member %q: %s", e.Member, e.Rule)
}

// String is the canonical form. Emails and domains are lower-cased because
// Google compares them case-insensitively and returns them that way; the
// paths of principal and principalSet identifiers are case-sensitive and kept.
func (m Member) String() string {
	switch m.Type {
	case TypeAllUsers, TypeAllAuthenticatedUsers:
		return m.Type
	case TypeDeleted:
		return TypeDeleted + ":" + m.DeletedType + ":" + m.Value + "?uid=" + m.UID
	}
	return m.Type + ":" + m.Value
}

// ParseMember parses a policy member strictly, as Google's setIamPolicy
// does, and returns it in canonical form.
func ParseMember(s string) (Member, error) {
	fail := func(format string, args ...any) (Member, error) {
		return Member{}, &MemberError{Member: s, Rule: fmt.Sprintf(format, args...)}
	}
	switch s {
	case TypeAllUsers, TypeAllAuthenticatedUsers:
		return Member{Type: s}, nil
	case "":
		return fail("a member cannot be empty")
	}
	typ, rest, ok := strings.Cut(s, ":")
	if !ok {
		switch {
		case strings.EqualFold(s, TypeAllUsers):
			return fail("member types are case-sensitive: did you mean allUsers?")
		case strings.EqualFold(s, TypeAllAuthenticatedUsers):
			return fail("member types are case-sensitive: did you mean allAuthenticatedUsers?")
		}
		return Member{}, &MemberError{Member: s, NoType: true,
			Rule: `policy members must be of the form "<type>:<value>", e.g. user:alice@example.com`}
	}
	switch typ {
	case TypeUser, TypeServiceAccount, TypeGroup:
		email, err := canonicalEmail(rest)
		if err != nil {
			return fail("a %s member must be %s:EMAIL, and %q is not a valid email address: %s", typ, typ, rest, err)
		}
		return Member{Type: typ, Value: email}, nil
	case TypeDomain:
		d, err := canonicalDomain(rest)
		if err != nil {
			return fail("a domain member must be domain:DOMAIN, and %q is not a valid domain: %s", rest, err)
		}
		return Member{Type: typ, Value: d}, nil
	case TypeDeleted:
		return parseDeleted(s, rest)
	case TypePrincipal, TypePrincipalSet:
		if err := checkPrincipalIdentifier(typ, rest); err != nil {
			return fail("%s", err)
		}
		return Member{Type: typ, Value: rest}, nil
	case TypeAllUsers, TypeAllAuthenticatedUsers:
		return fail("%s takes no value: write it alone, without a colon", typ)
	}
	for _, known := range []string{TypeUser, TypeServiceAccount, TypeGroup, TypeDomain, TypeDeleted, TypePrincipal, TypePrincipalSet} {
		if strings.EqualFold(typ, known) {
			return fail("member types are case-sensitive: did you mean %s:?", known)
		}
	}
	return fail("unknown member type %q: the types are user, serviceAccount, group, domain, deleted, principal and principalSet, besides allUsers and allAuthenticatedUsers", typ)
}

// parseDeleted parses the part after "deleted:", TYPE:EMAIL?uid=DIGITS.
func parseDeleted(s, rest string) (Member, error) {
	fail := func(format string, args ...any) (Member, error) {
		return Member{}, &MemberError{Member: s, Rule: fmt.Sprintf(format, args...)}
	}
	const form = "deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID"
	typ, rest, ok := strings.Cut(rest, ":")
	if !ok || (typ != TypeUser && typ != TypeServiceAccount && typ != TypeGroup) {
		return fail("%s", form)
	}
	email, uid, ok := strings.Cut(rest, "?uid=")
	if !ok {
		return fail("%s: the ?uid= suffix is missing", form)
	}
	if uid == "" || strings.Trim(uid, "0123456789") != "" {
		return fail("%s: the unique id %q must be a non-empty string of digits", form, uid)
	}
	e, err := canonicalEmail(email)
	if err != nil {
		return fail("%s: %q is not a valid email address: %s", form, email, err)
	}
	return Member{Type: TypeDeleted, Value: e, DeletedType: typ, UID: uid}, nil
}

// principalHosts are the identity namespaces principal and principalSet
// identifiers may name (reference §5.2, and Google's "goog" namespace).
var principalHosts = map[string][]string{
	TypePrincipal:    {"iam.googleapis.com", "goog"},
	TypePrincipalSet: {"iam.googleapis.com", "goog", "cloudresourcemanager.googleapis.com"},
}

func checkPrincipalIdentifier(typ, rest string) error {
	hosts := principalHosts[typ]
	path, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return fmt.Errorf("%s identifiers must start with %s://", typ, typ)
	}
	host, path, _ := strings.Cut(path, "/")
	known := false
	for _, h := range hosts {
		known = known || host == h
	}
	if !known {
		return fmt.Errorf("%s identifiers must name one of the hosts %s, not %q", typ, strings.Join(hosts, ", "), host)
	}
	if path == "" {
		return fmt.Errorf("%s identifiers need a path after %s://%s/", typ, typ, host)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			return fmt.Errorf("%s identifier path %q has an empty segment", typ, path)
		}
	}
	if !utf8.ValidString(path) {
		return fmt.Errorf("%s identifier path is not valid UTF-8", typ)
	}
	for _, r := range path {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%s identifier path %q contains the character %q", typ, path, r)
		}
	}
	return nil
}

// canonicalEmail checks the dot-atom form of RFC 5322 with an ASCII domain
// name, without quoted local parts or address literals (Google accounts have
// neither), and without '?', which separates the uid of a deleted member.
func canonicalEmail(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("it is empty")
	}
	if len(s) > 254 {
		return "", fmt.Errorf("it is longer than 254 characters")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", fmt.Errorf("it has no @")
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case local == "":
		return "", fmt.Errorf("the part before @ is empty")
	case len(local) > 64:
		return "", fmt.Errorf("the part before @ is longer than 64 characters")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return "", fmt.Errorf("the part before @ has a leading, trailing or doubled dot")
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !isAtext(c) && c != '.' {
			return "", fmt.Errorf("the part before @ contains the character %q", c)
		}
	}
	d, err := canonicalDomain(domain)
	if err != nil {
		return "", fmt.Errorf("its domain %q is invalid: %s", domain, err)
	}
	return strings.ToLower(local) + "@" + d, nil
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=^_`{|}~", c) >= 0
}

// canonicalDomain accepts a fully qualified host name of at least two labels
// whose last label is not all digits (so not an IP address).
func canonicalDomain(s string) (string, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("it is empty")
	case len(s) > 253:
		return "", fmt.Errorf("it is longer than 253 characters")
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("it needs at least two labels, like example.com")
	}
	for _, l := range labels {
		if l == "" {
			return "", fmt.Errorf("it has an empty label")
		}
		if len(l) > 63 {
			return "", fmt.Errorf("label %q is longer than 63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return "", fmt.Errorf("label %q contains the character %q", l, c)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", fmt.Errorf("its last label is numeric")
	}
	return strings.ToLower(s), nil
}

// matchMember reports whether the policy member entry covers subject, given
// as its type and email (typ "" for an anonymous caller). It works on the raw
// entry so that evaluating a large policy allocates nothing; entries that
// would not parse never match.
func matchMember(entry, typ, email string) bool {
	switch entry {
	case TypeAllUsers:
		return true
	case TypeAllAuthenticatedUsers:
		return typ != ""
	}
	if typ == "" {
		return false
	}
	et, ev, ok := strings.Cut(entry, ":")
	if !ok {
		return false
	}
	switch et {
	case TypeUser, TypeServiceAccount:
		return et == typ && strings.EqualFold(ev, email)
	case TypeDomain:
		at := strings.LastIndexByte(email, '@')
		return at >= 0 && ev != "" && strings.EqualFold(ev, email[at+1:])
	}
	return false
}
