package iam

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func binding(role string, members ...string) *iampb.Binding {
	return &iampb.Binding{Role: role, Members: members}
}

func policy(bindings ...*iampb.Binding) *iampb.Policy {
	return &iampb.Policy{Version: 1, Bindings: bindings}
}

func withCondition(b *iampb.Binding, title, expression string) *iampb.Binding {
	b.Condition = &expr.Expr{Title: title, Expression: expression}
	return b
}

func members(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d@example.com", prefix, i)
	}
	return out
}

func TestValidatePolicyAccepts(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		p    *iampb.Policy
	}{
		{"empty policy", KindProject, &iampb.Policy{}},
		{"version 0", KindProject, &iampb.Policy{Version: 0, Bindings: []*iampb.Binding{binding("roles/viewer", "user:a@x.com")}}},
		{"version 3 without conditions", KindProject, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{binding("roles/viewer", "user:a@x.com")}}},
		{"owner on project", KindProject, policy(binding("roles/owner", "user:a@x.com", "serviceAccount:s@p.iam.gserviceaccount.com", "group:g@x.com", "domain:x.com"))},
		{"owner on service account", KindServiceAccount, policy(binding("roles/owner", "user:a@x.com"))},
		{"owner on function", KindFunction, policy(binding("roles/owner", "user:a@x.com"))},
		{"public function", KindFunction, policy(binding("roles/cloudfunctions.invoker", "allUsers"))},
		{"public service", KindService, policy(binding("roles/run.invoker", "allAuthenticatedUsers"))},
		{"token creator on a service account", KindServiceAccount, policy(binding("roles/iam.serviceAccountTokenCreator", "serviceAccount:service-1@gcp-sa-cloudscheduler.iam.gserviceaccount.com"))},
		{"scheduler admin on root", KindRoot, policy(binding("roles/cloudscheduler.admin", "user:a@x.com"))},
		{"project creator on root", KindRoot, policy(binding("roles/resourcemanager.projectCreator", "domain:x.com"))},
		{"run invoker on project", KindProject, policy(binding("roles/run.invoker", "serviceAccount:s@p.iam.gserviceaccount.com"))},
		{"empty binding", KindProject, policy(binding("roles/viewer"))},
		{"deleted and federated members", KindProject, policy(binding("roles/viewer", "deleted:user:a@x.com?uid=1", "principal://goog/subject/a@x.com", "principalSet://goog/public:all"))},
		{"conditional at version 3", KindProject, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding("roles/viewer", "user:a@x.com"), "t", "request.time < timestamp('2030-01-01T00:00:00Z')")}}},
		{"empty condition is no condition", KindProject, &iampb.Policy{Version: 1, Bindings: []*iampb.Binding{{Role: "roles/viewer", Members: []string{"user:a@x.com"}, Condition: &expr.Expr{}}}}},
		{"exactly 1,500 members", KindProject, policy(binding("roles/viewer", members("user:u", 1000)...), binding("roles/editor", members("user:u", 500)...))},
		{"repeats count once per binding", KindProject, policy(binding("roles/viewer", append(members("user:u", 1500), members("user:u", 10)...)...))},
		{"250 groups", KindProject, policy(binding("roles/viewer", members("group:g", 250)...))},
		{"audit config", KindProject, &iampb.Policy{AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:a@x.com"}}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidatePolicy(tt.kind, tt.p); err != nil {
				t.Fatalf("ValidatePolicy: %v", err)
			}
		})
	}
}

func TestValidatePolicyRejects(t *testing.T) {
	groups251 := members("group:g", 251)
	tests := []struct {
		name string
		kind Kind
		p    *iampb.Policy
		want string
	}{
		{"nil", KindProject, nil, "policy: the field is required."},
		{"job", KindJob, policy(), "Cloud Scheduler jobs do not have IAM policies; grant Cloud Scheduler roles on the project instead."},
		{"location", KindLocation, policy(), "A resource of kind location does not have an IAM policy."},
		{"unknown kind", KindUnknown, policy(), "A resource of kind unknown does not have an IAM policy."},
		{"version 2", KindProject, &iampb.Policy{Version: 2}, "Specified policy version (2) is invalid. Valid versions are 0, 1, and 3."},
		{"version -1", KindProject, &iampb.Policy{Version: -1}, "Specified policy version (-1) is invalid. Valid versions are 0, 1, and 3."},
		{"no role", KindProject, policy(binding("roles/viewer", "user:a@x.com"), binding("", "user:a@x.com")),
			"bindings[1].role: the field is required; name a role such as roles/viewer."},
		{"unknown role", KindProject, policy(binding("roles/x", "user:a@x.com")), "Role (roles/x) does not exist in the resource's hierarchy."},
		{"custom role", KindProject, policy(binding("projects/p/roles/custom", "user:a@x.com")), "Role (projects/p/roles/custom) does not exist in the resource's hierarchy."},
		{"unknown role in empty binding", KindProject, policy(binding("roles/x")), "Role (roles/x) does not exist in the resource's hierarchy."},
		{"run invoker on function", KindFunction, policy(binding("roles/run.invoker", "user:a@x.com")), "Role roles/run.invoker is not supported for this resource."},
		{"functions invoker on service", KindService, policy(binding("roles/cloudfunctions.invoker", "user:a@x.com")), "Role roles/cloudfunctions.invoker is not supported for this resource."},
		{"scheduler role on service account", KindServiceAccount, policy(binding("roles/cloudscheduler.admin", "user:a@x.com")), "Role roles/cloudscheduler.admin is not supported for this resource."},
		{"project creator on project", KindProject, policy(binding("roles/resourcemanager.projectCreator", "user:a@x.com")), "Role roles/resourcemanager.projectCreator is not supported for this resource."},
		{"member without type", KindProject, policy(binding("roles/viewer", "alice@example.com")),
			`Policy members must be of the form "<type>:<value>". Member "alice@example.com" in the binding for role roles/viewer has no type.`},
		{"member with bad email", KindFunction, policy(binding("roles/cloudfunctions.invoker", "serviceAccount:job")),
			`Invalid member "serviceAccount:job" in the binding for role roles/cloudfunctions.invoker: a serviceAccount member must be serviceAccount:EMAIL, and "job" is not a valid email address: it has no @.`},
		{"member type in the wrong case", KindProject, policy(binding("roles/viewer", "allusers")),
			`Invalid member "allusers" in the binding for role roles/viewer: member types are case-sensitive: did you mean allUsers?`},
		{"allUsers on project", KindProject, policy(binding("roles/viewer", "allUsers")),
			"Project does not support allUsers and allAuthenticatedUsers as members in a Binding of a Policy."},
		{"allAuthenticatedUsers on project", KindProject, policy(binding("roles/run.invoker", "user:a@x.com", "allAuthenticatedUsers")),
			"Project does not support allUsers and allAuthenticatedUsers as members in a Binding of a Policy."},
		{"allUsers on root", KindRoot, policy(binding("roles/viewer", "allUsers")),
			"The installation root (//oidcron) does not support allUsers and allAuthenticatedUsers as members in a Binding of a Policy."},
		{"condition at version 1", KindProject, policy(withCondition(binding("roles/viewer", "user:a@x.com"), "t", "true")),
			"Conditional role bindings require policy version 3, but the policy has version 1 (binding for role roles/viewer). For more information, please refer to https://cloud.google.com/iam/docs/policies#versions"},
		{"condition at version 0", KindProject, &iampb.Policy{Bindings: []*iampb.Binding{withCondition(binding("roles/viewer", "user:a@x.com"), "t", "true")}},
			"Conditional role bindings require policy version 3, but the policy has version 0 (binding for role roles/viewer). For more information, please refer to https://cloud.google.com/iam/docs/policies#versions"},
		{"condition without title", KindProject, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding("roles/viewer", "user:a@x.com"), "", "true")}},
			"The condition of the binding for role roles/viewer has no title; an IAM condition needs a title and an expression."},
		{"condition without expression", KindProject, &iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding("roles/viewer", "user:a@x.com"), "t", "")}},
			"The condition of the binding for role roles/viewer has no expression; an IAM condition needs a title and an expression."},
		{"1,501 members", KindProject, policy(binding("roles/viewer", members("user:u", 1000)...), binding("roles/editor", members("user:u", 501)...)),
			"The number of members in the policy (1,501) is larger than the maximum allowed size 1,500."},
		{"251 groups", KindProject, policy(binding("roles/viewer", groups251...)),
			"The number of groups in the policy (251) is larger than the maximum allowed size 250."},
		{"audit config without service", KindProject, &iampb.Policy{AuditConfigs: []*iampb.AuditConfig{{}}},
			"auditConfigs[0].service: the field is required; name a service such as cloudscheduler.googleapis.com, or allServices."},
		{"audit log type unspecified", KindProject, &iampb.Policy{AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{}}}}},
			"The audit log config for service allServices has log type LOG_TYPE_UNSPECIFIED; it must be ADMIN_READ, DATA_WRITE or DATA_READ."},
		{"audit exempted member invalid", KindProject, &iampb.Policy{AuditConfigs: []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ, ExemptedMembers: []string{"bob"}}}}}},
			`Policy members must be of the form "<type>:<value>". Member "bob" among the exempted members of the audit config for service allServices has no type.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePolicy(tt.kind, tt.p)
			if err == nil {
				t.Fatal("ValidatePolicy accepted it")
			}
			st, ok := status.FromError(err)
			if !ok || st.Code() != codes.InvalidArgument {
				t.Fatalf("error %v is not INVALID_ARGUMENT", err)
			}
			if st.Message() != tt.want {
				t.Fatalf("message\n got: %s\nwant: %s", st.Message(), tt.want)
			}
		})
	}
}

func TestValidateRequestedVersion(t *testing.T) {
	for _, v := range []int32{0, 1, 3} {
		if err := ValidateRequestedVersion(v); err != nil {
			t.Errorf("ValidateRequestedVersion(%d): %v", v, err)
		}
	}
	for _, v := range []int32{-1, 2, 4} {
		err := ValidateRequestedVersion(v)
		st, _ := status.FromError(err)
		want := fmt.Sprintf("Requested policy version (%d) is invalid. Valid versions are 0, 1, and 3.", v)
		if st.Code() != codes.InvalidArgument || st.Message() != want {
			t.Errorf("ValidateRequestedVersion(%d) = %v", v, err)
		}
	}
}

func TestNormalizePolicy(t *testing.T) {
	cond := &expr.Expr{Title: "until 2030", Expression: "request.time < timestamp('2030-01-01T00:00:00Z')"}
	in := &iampb.Policy{
		Version: 0,
		Etag:    []byte("stale"),
		Bindings: []*iampb.Binding{
			binding("roles/viewer", "user:Bob@Example.com", "group:g@x.com"),
			binding("roles/editor"),
			binding("roles/owner", "user:a@x.com"),
			{Role: "roles/viewer", Members: []string{"user:carol@x.com"}, Condition: proto.Clone(cond).(*expr.Expr)},
			binding("roles/viewer", "user:bob@example.com", "allAuthenticatedUsers", "not a member"),
			{Role: "roles/viewer", Members: []string{"user:a@x.com"}, Condition: proto.Clone(cond).(*expr.Expr)},
			{Role: "roles/cloudscheduler.admin", Members: []string{"user:a@x.com"}, Condition: &expr.Expr{}},
		},
		AuditConfigs: []*iampb.AuditConfig{
			{Service: "cloudscheduler.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_WRITE}}},
			{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:B@x.com"}}}},
			{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{
				{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:a@x.com", "user:b@x.com"}},
				{LogType: iampb.AuditLogConfig_ADMIN_READ},
			}},
		},
	}
	before := proto.Clone(in)
	got := NormalizePolicy(in)
	want := &iampb.Policy{
		Version: 3,
		Bindings: []*iampb.Binding{
			binding("roles/cloudscheduler.admin", "user:a@x.com"),
			binding("roles/owner", "user:a@x.com"),
			binding("roles/viewer", "allAuthenticatedUsers", "group:g@x.com", "not a member", "user:bob@example.com"),
			{Role: "roles/viewer", Members: []string{"user:a@x.com", "user:carol@x.com"}, Condition: cond},
		},
		AuditConfigs: []*iampb.AuditConfig{
			{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{
				{LogType: iampb.AuditLogConfig_ADMIN_READ},
				{LogType: iampb.AuditLogConfig_DATA_READ, ExemptedMembers: []string{"user:a@x.com", "user:b@x.com"}},
			}},
			{Service: "cloudscheduler.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_WRITE}}},
		},
	}
	if !proto.Equal(got, want) {
		t.Errorf("NormalizePolicy\n got: %v\nwant: %v", got, want)
	}
	if !proto.Equal(in, before) {
		t.Error("NormalizePolicy changed its input")
	}
	if again := NormalizePolicy(got); !proto.Equal(again, got) {
		t.Errorf("NormalizePolicy is not idempotent: %v", again)
	}
	got.Bindings[0].Members[0] = "user:z@x.com"
	if in.Bindings[6].Members[0] != "user:a@x.com" {
		t.Error("the result shares member slices with the input")
	}

	if p := NormalizePolicy(policy(binding("roles/viewer", "user:a@x.com"))); p.GetVersion() != 1 {
		t.Errorf("unconditional policy got version %d", p.GetVersion())
	}
	if p := NormalizePolicy(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding("roles/viewer"), "t", "true")}}); p.GetVersion() != 1 || len(p.GetBindings()) != 0 {
		t.Errorf("a policy whose only conditional binding is empty: %v", p)
	}
	if p := NormalizePolicy(nil); p.GetVersion() != 1 || len(p.GetBindings()) != 0 {
		t.Errorf("NormalizePolicy(nil) = %v", p)
	}
}

func TestEtags(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(EmptyPolicyEtag); got != "ACAB" {
		t.Errorf("EmptyPolicyEtag = %q, want ACAB", got)
	}
	if p := EmptyPolicy(); p.GetVersion() != 1 || string(p.GetEtag()) != string(EmptyPolicyEtag) || len(p.GetBindings()) != 0 {
		t.Errorf("EmptyPolicy() = %v", p)
	}

	base := func() *iampb.Policy {
		return policy(
			binding("roles/viewer", "user:a@x.com", "user:b@x.com"),
			binding("roles/owner", "user:o@x.com"),
		)
	}
	e := ComputeEtag(base())
	if len(e) != 8 || e[0] != 0x07 {
		t.Fatalf("etag %x is not 8 bytes starting 0x07", e)
	}
	if s := base64.StdEncoding.EncodeToString(e); !strings.HasPrefix(s, "Bw") {
		t.Errorf("etag %s does not look like Google's", s)
	}
	// Pinned: a change here invalidates every etag already stored.
	if got := base64.StdEncoding.EncodeToString(e); got != pinnedEtag {
		t.Errorf("etag of the reference policy = %s, want %s", got, pinnedEtag)
	}

	same := []*iampb.Policy{
		policy(binding("roles/owner", "user:o@x.com"), binding("roles/viewer", "user:b@x.com", "user:a@x.com")),
		policy(binding("roles/viewer", "user:A@X.com"), binding("roles/owner", "user:o@x.com"), binding("roles/viewer", "user:b@x.com", "user:a@x.com")),
		func() *iampb.Policy { p := base(); p.Etag = []byte("old"); p.Version = 0; return p }(),
		func() *iampb.Policy { p := base(); p.Bindings = append(p.Bindings, binding("roles/editor")); return p }(),
	}
	for i, p := range same {
		if got := ComputeEtag(p); string(got) != string(e) {
			t.Errorf("equivalent policy %d: etag %x, want %x", i, got, e)
		}
	}

	different := []*iampb.Policy{
		policy(binding("roles/viewer", "user:a@x.com"), binding("roles/owner", "user:o@x.com")),
		policy(binding("roles/viewer", "user:a@x.com", "user:b@x.com"), binding("roles/owner", "user:o@x.com", "user:p@x.com")),
		policy(binding("roles/editor", "user:a@x.com", "user:b@x.com"), binding("roles/owner", "user:o@x.com")),
		policy(binding("roles/viewer", "user:a@x.com", "user:b@x.com")),
		&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			withCondition(binding("roles/viewer", "user:a@x.com", "user:b@x.com"), "t", "true"),
			binding("roles/owner", "user:o@x.com"),
		}},
		&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			withCondition(binding("roles/viewer", "user:a@x.com", "user:b@x.com"), "t", "false"),
			binding("roles/owner", "user:o@x.com"),
		}},
		func() *iampb.Policy {
			p := base()
			p.AuditConfigs = []*iampb.AuditConfig{{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ}}}}
			return p
		}(),
		&iampb.Policy{},
	}
	seen := map[string]int{string(e): -1}
	for i, p := range different {
		got := string(ComputeEtag(p))
		if j, dup := seen[got]; dup {
			t.Errorf("policy %d has the same etag as policy %d", i, j)
		}
		seen[got] = i
	}
	if string(ComputeEtag(&iampb.Policy{})) == string(EmptyPolicyEtag) {
		t.Error("a set empty policy has the never-set etag")
	}
}

// pinnedEtag is ComputeEtag of TestEtags's base policy.
const pinnedEtag = "BwcSzmB5Ato="

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1500: "1,500", 1234567: "1,234,567", -1501: "-1,501"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
