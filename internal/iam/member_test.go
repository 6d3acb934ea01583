package iam

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMemberAccepts(t *testing.T) {
	tests := []struct {
		in   string
		want Member
		str  string // canonical form; "" means the input itself
	}{
		{in: "allUsers", want: Member{Type: "allUsers"}},
		{in: "allAuthenticatedUsers", want: Member{Type: "allAuthenticatedUsers"}},
		{in: "user:alice@example.com", want: Member{Type: "user", Value: "alice@example.com"}},
		{in: "user:Alice.Smith@Example.COM", want: Member{Type: "user", Value: "alice.smith@example.com"}, str: "user:alice.smith@example.com"},
		{in: "user:o'brien+tag@mail.example.co.uk", want: Member{Type: "user", Value: "o'brien+tag@mail.example.co.uk"}},
		{in: "serviceAccount:job@p-1.iam.gserviceaccount.com", want: Member{Type: "serviceAccount", Value: "job@p-1.iam.gserviceaccount.com"}},
		{in: "serviceAccount:service-123@gcp-sa-cloudscheduler.iam.gserviceaccount.com", want: Member{Type: "serviceAccount", Value: "service-123@gcp-sa-cloudscheduler.iam.gserviceaccount.com"}},
		{in: "group:admins@example.com", want: Member{Type: "group", Value: "admins@example.com"}},
		{in: "user:dev@oidcron.local", want: Member{Type: "user", Value: "dev@oidcron.local"}},
		{in: "domain:example.com", want: Member{Type: "domain", Value: "example.com"}},
		{in: "domain:Sub.Example.com", want: Member{Type: "domain", Value: "sub.example.com"}, str: "domain:sub.example.com"},
		{in: "deleted:user:bob@example.com?uid=123456789012345678901", want: Member{Type: "deleted", Value: "bob@example.com", DeletedType: "user", UID: "123456789012345678901"}},
		{in: "deleted:serviceAccount:sa@p.iam.gserviceaccount.com?uid=1", want: Member{Type: "deleted", Value: "sa@p.iam.gserviceaccount.com", DeletedType: "serviceAccount", UID: "1"}},
		{in: "deleted:group:G@Example.com?uid=42", want: Member{Type: "deleted", Value: "g@example.com", DeletedType: "group", UID: "42"}, str: "deleted:group:g@example.com?uid=42"},
		{in: "principal://iam.googleapis.com/locations/global/workforcePools/pool/subject/Alice",
			want: Member{Type: "principal", Value: "//iam.googleapis.com/locations/global/workforcePools/pool/subject/Alice"}},
		{in: "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/default/sa/ksa",
			want: Member{Type: "principal", Value: "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/default/sa/ksa"}},
		{in: "principal://goog/subject/alice@example.com", want: Member{Type: "principal", Value: "//goog/subject/alice@example.com"}},
		{in: "principalSet://iam.googleapis.com/locations/global/workforcePools/pool/*",
			want: Member{Type: "principalSet", Value: "//iam.googleapis.com/locations/global/workforcePools/pool/*"}},
		{in: "principalSet://iam.googleapis.com/locations/global/workforcePools/pool/attribute.dept/Eng",
			want: Member{Type: "principalSet", Value: "//iam.googleapis.com/locations/global/workforcePools/pool/attribute.dept/Eng"}},
		{in: "principalSet://cloudresourcemanager.googleapis.com/projects/123/type/ServiceAccount",
			want: Member{Type: "principalSet", Value: "//cloudresourcemanager.googleapis.com/projects/123/type/ServiceAccount"}},
		{in: "principalSet://goog/public:all", want: Member{Type: "principalSet", Value: "//goog/public:all"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMember(tt.in)
			if err != nil {
				t.Fatalf("ParseMember: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ParseMember = %+v, want %+v", got, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Fatalf("String() = %q, want %q", s, want)
			}
			again, err := ParseMember(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip: %+v, %v", again, err)
			}
		})
	}
}

func TestParseMemberRejects(t *testing.T) {
	tests := []struct {
		in, want string // want: the exact error text
		noType   bool
	}{
		{"", `invalid member "": a member cannot be empty`, false},
		{"alice@example.com", `invalid member "alice@example.com": policy members must be of the form "<type>:<value>", e.g. user:alice@example.com`, true},
		{"allusers", `invalid member "allusers": member types are case-sensitive: did you mean allUsers?`, false},
		{"AllAuthenticatedUsers", `invalid member "AllAuthenticatedUsers": member types are case-sensitive: did you mean allAuthenticatedUsers?`, false},
		{"allUsers:", `invalid member "allUsers:": allUsers takes no value: write it alone, without a colon`, false},
		{"User:alice@example.com", `invalid member "User:alice@example.com": member types are case-sensitive: did you mean user:?`, false},
		{"serviceaccount:a@b.com", `invalid member "serviceaccount:a@b.com": member types are case-sensitive: did you mean serviceAccount:?`, false},
		{"robot:a@b.com", `invalid member "robot:a@b.com": unknown member type "robot": the types are user, serviceAccount, group, domain, deleted, principal and principalSet, besides allUsers and allAuthenticatedUsers`, false},
		{"user:", `invalid member "user:": a user member must be user:EMAIL, and "" is not a valid email address: it is empty`, false},
		{"user:bob", `invalid member "user:bob": a user member must be user:EMAIL, and "bob" is not a valid email address: it has no @`, false},
		{"user:@example.com", `invalid member "user:@example.com": a user member must be user:EMAIL, and "@example.com" is not a valid email address: the part before @ is empty`, false},
		{"user:bob@", `invalid member "user:bob@": a user member must be user:EMAIL, and "bob@" is not a valid email address: its domain "" is invalid: it is empty`, false},
		{"user:bob@localhost", `invalid member "user:bob@localhost": a user member must be user:EMAIL, and "bob@localhost" is not a valid email address: its domain "localhost" is invalid: it needs at least two labels, like example.com`, false},
		{"user:bob@10.0.0.1", `invalid member "user:bob@10.0.0.1": a user member must be user:EMAIL, and "bob@10.0.0.1" is not a valid email address: its domain "10.0.0.1" is invalid: its last label is numeric`, false},
		{"user:a..b@example.com", `invalid member "user:a..b@example.com": a user member must be user:EMAIL, and "a..b@example.com" is not a valid email address: the part before @ has a leading, trailing or doubled dot`, false},
		{"user:a b@example.com", `invalid member "user:a b@example.com": a user member must be user:EMAIL, and "a b@example.com" is not a valid email address: the part before @ contains the character ' '`, false},
		{"user:a@b@example.com", `invalid member "user:a@b@example.com": a user member must be user:EMAIL, and "a@b@example.com" is not a valid email address: the part before @ contains the character '@'`, false},
		{"user:a@-x.com", `invalid member "user:a@-x.com": a user member must be user:EMAIL, and "a@-x.com" is not a valid email address: its domain "-x.com" is invalid: label "-x" starts or ends with a hyphen`, false},
		{"user:a@x..com", `invalid member "user:a@x..com": a user member must be user:EMAIL, and "a@x..com" is not a valid email address: its domain "x..com" is invalid: it has an empty label`, false},
		{"user:alice@example.com ", `invalid member "user:alice@example.com ": a user member must be user:EMAIL, and "alice@example.com " is not a valid email address: its domain "example.com " is invalid: label "com " contains the character ' '`, false},
		{"group:team", `invalid member "group:team": a group member must be group:EMAIL, and "team" is not a valid email address: it has no @`, false},
		{"serviceAccount:x?y@p.iam.gserviceaccount.com", `invalid member "serviceAccount:x?y@p.iam.gserviceaccount.com": a serviceAccount member must be serviceAccount:EMAIL, and "x?y@p.iam.gserviceaccount.com" is not a valid email address: the part before @ contains the character '?'`, false},
		{"domain:", `invalid member "domain:": a domain member must be domain:DOMAIN, and "" is not a valid domain: it is empty`, false},
		{"domain:alice@example.com", `invalid member "domain:alice@example.com": a domain member must be domain:DOMAIN, and "alice@example.com" is not a valid domain: label "alice@example" contains the character '@'`, false},
		{"deleted:user:bob@example.com", `invalid member "deleted:user:bob@example.com": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID: the ?uid= suffix is missing`, false},
		{"deleted:user:bob@example.com?uid=", `invalid member "deleted:user:bob@example.com?uid=": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID: the unique id "" must be a non-empty string of digits`, false},
		{"deleted:user:bob@example.com?uid=12a", `invalid member "deleted:user:bob@example.com?uid=12a": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID: the unique id "12a" must be a non-empty string of digits`, false},
		{"deleted:domain:example.com?uid=1", `invalid member "deleted:domain:example.com?uid=1": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID`, false},
		{"deleted:User:bob@example.com?uid=1", `invalid member "deleted:User:bob@example.com?uid=1": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID`, false},
		{"deleted:user:bob?uid=1", `invalid member "deleted:user:bob?uid=1": deleted members must be deleted:user|serviceAccount|group:EMAIL?uid=UNIQUE_ID: "bob" is not a valid email address: it has no @`, false},
		{"principal:iam.googleapis.com/x", `invalid member "principal:iam.googleapis.com/x": principal identifiers must start with principal://`, false},
		{"principal://example.com/subject/x", `invalid member "principal://example.com/subject/x": principal identifiers must name one of the hosts iam.googleapis.com, goog, not "example.com"`, false},
		{"principal://cloudresourcemanager.googleapis.com/projects/1/type/ServiceAccount", `invalid member "principal://cloudresourcemanager.googleapis.com/projects/1/type/ServiceAccount": principal identifiers must name one of the hosts iam.googleapis.com, goog, not "cloudresourcemanager.googleapis.com"`, false},
		{"principal://iam.googleapis.com", `invalid member "principal://iam.googleapis.com": principal identifiers need a path after principal://iam.googleapis.com/`, false},
		{"principal://iam.googleapis.com/", `invalid member "principal://iam.googleapis.com/": principal identifiers need a path after principal://iam.googleapis.com/`, false},
		{"principalSet://goog/a//b", `invalid member "principalSet://goog/a//b": principalSet identifier path "a//b" has an empty segment`, false},
		{"principalSet://goog/a b", `invalid member "principalSet://goog/a b": principalSet identifier path "a b" contains the character ' '`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseMember(tt.in)
			if err == nil {
				t.Fatal("ParseMember accepted it")
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var me *MemberError
			if !errors.As(err, &me) || me.Member != tt.in || me.NoType != tt.noType {
				t.Fatalf("error is %#v", err)
			}
		})
	}
}

func TestMatchMember(t *testing.T) {
	tests := []struct {
		entry, typ, email string
		want              bool
	}{
		{"allUsers", "", "", true},
		{"allUsers", "user", "a@x.com", true},
		{"allAuthenticatedUsers", "", "", false},
		{"allAuthenticatedUsers", "serviceAccount", "sa@p.iam.gserviceaccount.com", true},
		{"user:a@x.com", "user", "a@x.com", true},
		{"user:A@X.com", "user", "a@x.com", true},
		{"user:a@x.com", "user", "A@x.COM", true},
		{"user:a@x.com", "serviceAccount", "a@x.com", false},
		{"serviceAccount:a@x.com", "user", "a@x.com", false},
		{"user:a@x.com", "", "", false},
		{"domain:x.com", "user", "a@x.com", true},
		{"domain:X.com", "serviceAccount", "sa@x.com", true},
		{"domain:x.com", "user", "a@sub.x.com", false},
		{"domain:x.com", "", "", false},
		{"group:a@x.com", "user", "a@x.com", false},
		{"deleted:user:a@x.com?uid=1", "user", "a@x.com", false},
		{"principal://goog/subject/a@x.com", "user", "a@x.com", false},
		{"User:a@x.com", "user", "a@x.com", false},
		{"a@x.com", "user", "a@x.com", false},
		{"domain:", "user", "a@", false},
	}
	for _, tt := range tests {
		if got := matchMember(tt.entry, tt.typ, tt.email); got != tt.want {
			t.Errorf("matchMember(%q, %q, %q) = %v, want %v", tt.entry, tt.typ, tt.email, got, tt.want)
		}
	}
}

func FuzzParseMember(f *testing.F) {
	for _, s := range []string{
		"allUsers", "allAuthenticatedUsers", "user:alice@example.com", "serviceAccount:Job@P.iam.gserviceaccount.com",
		"group:g@example.com", "domain:example.com", "deleted:user:bob@example.com?uid=123",
		"deleted:group:g@x.co?uid=0", "principal://goog/subject/x", "principalSet://iam.googleapis.com/locations/global/workforcePools/p/*",
		"user:", "user:a@b", ":", "deleted:user:a@b.c?uid=1?uid=2", "principal://goog/é/ü", "domain:A.B",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMember(s)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid member") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
			return
		}
		again, err := ParseMember(m.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", m.String(), s, err)
		}
		if again != m {
			t.Fatalf("round trip of %q: %+v then %+v", s, m, again)
		}
		if again.String() != m.String() {
			t.Fatalf("canonical form is not stable: %q then %q", m.String(), again.String())
		}
	})
}
