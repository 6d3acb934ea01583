package rest

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/genproto/googleapis/api/annotations"
)

func ruleGet(path string) *annotations.HttpRule {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path}}
}

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		verb    string
		nsegs   int
		varPath []string
	}{
		{"/v1/{name=projects/*/locations/*/jobs/*}:run", true, "run", 7, []string{"name"}},
		{"/v1/{job.name=projects/*/locations/*/jobs/*}", true, "", 7, []string{"job.name"}},
		{"/v1/{parent=projects/*/locations/*}/jobs", true, "", 6, []string{"parent"}},
		{"/v1/{resource=**}:getIamPolicy", true, "getIamPolicy", 2, []string{"resource"}},
		{"/v3/projects:search", true, "search", 2, nil},
		{"/v1/things/{id}/sub/{other}", true, "", 5, []string{"id", "other"}},
		{"/v1/*/x/**", true, "", 4, nil},
		{"v1/x", false, "", 0, nil},
		{"/", false, "", 0, nil},
		{"/v1//x", false, "", 0, nil},
		{"/v1/{a=**}/{b=**}", false, "", 0, nil},
		{"/v1/{a={b}}", false, "", 0, nil},
		{"/v1/{a}/{a}", false, "", 0, nil},
		{"/v1/{a", false, "", 0, nil},
		{"/v1/{1a}", false, "", 0, nil},
		{"/v1/x:", false, "", 0, nil},
		{"/v1/x:a/b", false, "", 0, nil},
		{"/v1/a*", false, "", 0, nil},
	} {
		tm, err := parseTemplate(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.ok {
			continue
		}
		var paths []string
		for _, v := range tm.vars {
			paths = append(paths, strings.Join(v.fieldPath, "."))
		}
		if tm.verb != tc.verb || len(tm.segs) != tc.nsegs || !reflect.DeepEqual(paths, tc.varPath) {
			t.Errorf("%q: verb %q segs %d vars %v", tc.in, tm.verb, len(tm.segs), paths)
		}
	}
}

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       []string // nil: no match
	}{
		{"/v1/{name=projects/*/locations/*/jobs/*}", "/v1/projects/p/locations/l/jobs/j", []string{"projects/p/locations/l/jobs/j"}},
		{"/v1/{name=projects/*/locations/*/jobs/*}", "/v1/projects/p/locations/l/jobs", nil},
		{"/v1/{name=projects/*/locations/*/jobs/*}", "/v1/projects/p/locations/l/jobs/j/x", nil},
		{"/v1/{name=projects/*/locations/*/jobs/*}", "/v1/projects/p/locations//jobs/j", nil},
		// The email segment, raw and percent-encoded.
		{"/v1/{name=projects/*/serviceAccounts/*}:generateIdToken", "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateIdToken", []string{"projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com"}},
		{"/v1/{name=projects/*/serviceAccounts/*}:generateIdToken", "/v1/projects/-/serviceAccounts/sa%40p.iam.gserviceaccount.com:generateIdToken", []string{"projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com"}},
		// A single-segment variable decodes %2F; a multi-segment one keeps it.
		{"/v1/things/{id}", "/v1/things/a%2Fb", []string{"a/b"}},
		{"/v1/{name=things/*}", "/v1/things/a%2Fb", []string{"things/a%2Fb"}},
		{"/v1/{name=things/*}", "/v1/things/a%20b%3Ac", []string{"things/a b:c"}},
		{"/v1/things/{id}", "/v1/things/a%zz", nil},
		// "**" takes the rest, zero or more segments.
		{"/v1/{resource=**}:getIamPolicy", "/v1/projects/p/locations/l/functions/f:getIamPolicy", []string{"projects/p/locations/l/functions/f"}},
		{"/v1/{name=a/**}/end", "/v1/a/end", []string{"a"}},
		{"/v1/{name=a/**}/end", "/v1/a/b/c/end", []string{"a/b/c"}},
		{"/v1/{x=**}/y/{z}", "/v1/p/q/y/r", []string{"p/q", "r"}},
		// Literals compare decoded.
		{"/v1/roles:queryGrantableRoles", "/v1/r%6Fles:queryGrantableRoles", []string{}},
		{"/v3/projects:search", "/v3/projects:search", []string{}},
		{"/v3/projects:search", "/v3/projects", nil},
	} {
		tm, err := parseTemplate(tc.tmpl)
		must(t, err)
		segs, verb, ok := splitPath(tc.path, func(v string) bool { return v == tm.verb })
		if !ok {
			t.Fatalf("%s: splitPath failed", tc.path)
		}
		var got []string
		if verb == tm.verb {
			got, ok = tm.match(segs)
			if !ok {
				got = nil
			}
		}
		if (got == nil) != (tc.want == nil) || got != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s ~ %s: got %q, want %q", tc.tmpl, tc.path, got, tc.want)
		}
	}
}

// TestVerbOnlyWhenKnown: a colon that is not a registered verb stays in the
// segment (so ids with colons still reach verbless templates), and a
// registered one never reaches them.
func TestVerbOnlyWhenKnown(t *testing.T) {
	tr := New(Options{})
	must(t, tr.RegisterService(&schedulerpb.CloudScheduler_ServiceDesc, newMemSched()))
	rt, vals := tr.lookup("GET", "/v1/projects/p/locations/l/jobs/a:b")
	if rt == nil || rt.m.fullMethod != "/google.cloud.scheduler.v1.CloudScheduler/GetJob" || vals[0] != "projects/p/locations/l/jobs/a:b" {
		t.Fatalf("a:b routed to %v %v", rt, vals)
	}
	if rt, _ := tr.lookup("GET", "/v1/projects/p/locations/l/jobs/a:run"); rt != nil {
		t.Fatalf("GET a:run routed to %s", rt.m.fullMethod)
	}
	if rt, _ := tr.lookup("POST", "/v1/projects/p/locations/l/jobs/a:run"); rt == nil || rt.m.fullMethod != "/google.cloud.scheduler.v1.CloudScheduler/RunJob" {
		t.Fatalf("POST a:run routed to %v", rt)
	}
}

// TestSpecificity: with the IAM admin service and the IAMPolicy mixin both
// registered, a service account path goes to the specific rule, anything
// else to "/v1/{resource=**}:getIamPolicy"; exact duplicates go to the
// service registered first.
func TestSpecificity(t *testing.T) {
	tr := New(Options{})
	// Mixin first, so that registration order would pick it if
	// specificity did not.
	must(t, tr.RegisterService(&iampb.IAMPolicy_ServiceDesc, memPolicy{}))
	iam := &memIAM{}
	desc, err := ServiceDescByName("google.iam.admin.v1.IAM", iam)
	must(t, err)
	must(t, tr.RegisterService(desc, iam))
	must(t, tr.RegisterService(&credentialspb.IAMCredentials_ServiceDesc, &memCreds{}))

	for path, want := range map[string]string{
		"/v1/projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com:getIamPolicy":    "/google.iam.admin.v1.IAM/GetIamPolicy",
		"/v1/projects/p/locations/l/functions/f:getIamPolicy":                         "/google.iam.v1.IAMPolicy/GetIamPolicy",
		"/v1/projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com:signBlob":        "/google.iam.admin.v1.IAM/SignBlob",
		"/v1/projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com:signJwt":         "/google.iam.admin.v1.IAM/SignJwt",
		"/v1/projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com:generateIdToken": "/google.iam.credentials.v1.IAMCredentials/GenerateIdToken",
	} {
		rt, _ := tr.lookup("POST", path)
		if rt == nil || rt.m.fullMethod != want {
			t.Errorf("%s: routed to %v, want %s", path, rt, want)
		}
	}
	// Additional bindings are routed too.
	for _, path := range []string{"/v1/roles", "/v1/projects/p/roles", "/v1/organizations/o/roles"} {
		if rt, _ := tr.lookup("GET", path); rt == nil || rt.m.fullMethod != "/google.iam.admin.v1.IAM/ListRoles" {
			t.Errorf("GET %s routed to %v", path, rt)
		}
	}
	if err := tr.RegisterService(&iampb.IAMPolicy_ServiceDesc, memPolicy{}); err == nil {
		t.Error("a second registration of a service was accepted")
	}
	if err := tr.RegisterService(&schedulerpb.CloudScheduler_ServiceDesc, memPolicy{}); err == nil {
		t.Error("an implementation of the wrong interface was accepted")
	}
}

// FuzzMatchPath: the matcher never panics, a match binds every variable,
// and a path rendered from a template always matches it with the values it
// was rendered with.
func FuzzMatchPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/{name=projects/*/locations/*/jobs/*}:run", "/v1/projects/p/locations/l/jobs/j:run"},
		{"/v1/{name=projects/*/serviceAccounts/*}:generateIdToken", "/v1/projects/-/serviceAccounts/sa%40p.iam.gserviceaccount.com:generateIdToken"},
		{"/v1/{resource=**}:getIamPolicy", "/v1/projects/p:getIamPolicy"},
		{"/v1/{x=**}/y/{z}", "/v1/y/r"},
		{"/v1/things/{id}", "/v1/things/a%2Fb"},
		{"/v1/{job.name=a/*}", "/v1/a/%"},
		{"/v3/projects:search", "/v3/projects:search"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tmplStr, path string) {
		tm, err := parseTemplate(tmplStr)
		if err != nil {
			return
		}
		isVerb := func(v string) bool { return tm.verb != "" && v == tm.verb }
		if segs, verb, ok := splitPath(path, isVerb); ok && verb == tm.verb {
			if vals, ok := tm.match(segs); ok && len(vals) != len(tm.vars) {
				t.Fatalf("%d values for %d variables", len(vals), len(tm.vars))
			}
		}
		rendered, want := render(tm)
		segs, verb, ok := splitPath(rendered, isVerb)
		if !ok || verb != tm.verb {
			t.Fatalf("rendered %q: verb %q, want %q", rendered, verb, tm.verb)
		}
		vals, ok := tm.match(segs)
		if !ok || !reflect.DeepEqual(vals, want) {
			t.Fatalf("template %q, rendered %q: got %q (match %v), want %q", tmplStr, rendered, vals, ok, want)
		}
	})
}

// render builds a request path that matches tm: "*" as "x", "**" as "a/b",
// literals percent-encoded; want is what each variable must decode to.
func render(tm *pathTemplate) (string, []string) {
	parts := make([]string, len(tm.segs))
	values := make([]string, len(tm.segs))
	for i, s := range tm.segs {
		switch s.kind {
		case segLiteral:
			parts[i], values[i] = url.PathEscape(s.lit), s.lit
		case segStar:
			parts[i], values[i] = "x", "x"
		case segDoubleStar:
			parts[i], values[i] = "a/b", "a/b"
		}
	}
	want := make([]string, len(tm.vars))
	for i, v := range tm.vars {
		want[i] = strings.Join(values[v.start:v.end], "/")
		if v.multi {
			// A multi-segment variable leaves %2F encoded.
			var ws []string
			for _, p := range parts[v.start:v.end] {
				d, _ := unescape(p, true)
				ws = append(ws, d)
			}
			want[i] = strings.Join(ws, "/")
		}
	}
	p := "/" + strings.Join(parts, "/")
	if tm.verb != "" {
		p += ":" + url.PathEscape(tm.verb)
	}
	return p, want
}
