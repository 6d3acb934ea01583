package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/oidcron/oidcron/internal/api/rest"
	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
)

// restWithAdmin serves every API over REST exactly as the server does
// (Register + the transcoder + the interceptor), in dev mode.
func restWithAdmin(t *testing.T) string {
	t.Helper()
	db := openTestStore(t)
	clk := clock.Real{}
	s := New(Config{Store: db, Dir: directory.New(db, clk, 0), Clock: clk, DefaultLocation: "us-central1"})
	tr := rest.New(rest.Options{Interceptor: s.Interceptor})
	if err := s.Register(grpc.NewServer(), tr); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(tr)
	t.Cleanup(ts.Close)
	return ts.URL
}

func adminClient(t *testing.T, base string) *iamv1.Service {
	t.Helper()
	svc, err := iamv1.NewService(context.Background(), option.WithEndpoint(base+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestIamPermissions on a service account takes the project part of the
// name by id or by number, as Get, GetIamPolicy and SetIamPolicy do.
func TestServiceAccountTestIamPermissionsByProjectNumber(t *testing.T) {
	base := restWithAdmin(t)
	svc := adminClient(t, base)
	sa, err := svc.Projects.ServiceAccounts.Create("projects/acme-prod", &iamv1.CreateServiceAccountRequest{AccountId: "runner-one"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// The project's number, from Resource Manager v3 over REST.
	resp, err := http.Get(base + "/v3/projects/acme-prod?prettyPrint=false")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, rest, _ := strings.Cut(string(b), `"name":"projects/`)
	number, _, _ := strings.Cut(rest, `"`)
	byNumber := "projects/" + number + "/serviceAccounts/" + sa.Email
	got, err := svc.Projects.ServiceAccounts.Get(byNumber).Do()
	if err != nil || got.Email != sa.Email {
		t.Fatalf("get %s: %v %+v", byNumber, err, got)
	}
	perms := []string{"iam.serviceAccounts.get"}
	viaID, err := svc.Projects.ServiceAccounts.TestIamPermissions(sa.Name, &iamv1.TestIamPermissionsRequest{Permissions: perms}).Do()
	if err != nil || len(viaID.Permissions) != 1 {
		t.Fatalf("testIamPermissions by id: %v %+v", err, viaID)
	}
	viaNumber, err := svc.Projects.ServiceAccounts.TestIamPermissions(byNumber, &iamv1.TestIamPermissionsRequest{Permissions: perms}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(viaNumber.Permissions) != 1 {
		t.Errorf("testIamPermissions(%s) = %v, want %v (the caller just got the account by that name)", byNumber, viaNumber.Permissions, perms)
	}
}

// Cloud Scheduler has no per-job IAM (reference 1.1), so Google answers
// POST .../jobs/J:getIamPolicy|setIamPolicy|testIamPermissions with 404 like
// any path it does not serve (README: an unknown path is Google's 404), not
// with the Cloud Functions IAMPolicy mixin's function-name error.
func TestJobIAMPathsAreNotServed(t *testing.T) {
	base := restWithAdmin(t)
	for _, verb := range []string{"getIamPolicy", "setIamPolicy", "testIamPermissions"} {
		path := "/v1/projects/acme-prod/locations/us-central1/jobs/j1:" + verb
		resp, err := http.Post(base+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d %s, want 404 (no such method)", path, resp.StatusCode, b)
		}
	}
}
