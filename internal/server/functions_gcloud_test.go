package server_test

import (
	"net/http"
	"testing"

	cfv2 "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
)

// gcloud's `functions list` asks for one generation with a filter; any
// other filter is refused rather than silently ignored.
func TestListFunctionsEnvironmentFilter(t *testing.T) {
	f := newFixture(t, "GEN_1")
	if _, err := f.cf.Projects.Locations.Functions.Create("projects/acme/locations/us-central1", &cfv2.Function{
		Environment:   "GEN_2",
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": f.up.URL}},
	}).FunctionId("second").Do(); err != nil {
		t.Fatal(err)
	}
	list := func(filter string) []string {
		t.Helper()
		r, err := f.cf.Projects.Locations.Functions.List("projects/acme/locations/us-central1").Filter(filter).Do()
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		var names []string
		for _, fn := range r.Functions {
			names = append(names, fn.Name)
		}
		return names
	}
	if got := list(`environment="GEN_2"`); len(got) != 1 || got[0] != "projects/acme/locations/us-central1/functions/second" {
		t.Errorf(`environment="GEN_2": %v`, got)
	}
	if got := list(`environment="GEN_1"`); len(got) != 1 || got[0] != "projects/acme/locations/us-central1/functions/hello" {
		t.Errorf(`environment="GEN_1": %v`, got)
	}
	if got := list(""); len(got) != 2 {
		t.Errorf("no filter: %v", got)
	}
	_, err := f.cf.Projects.Locations.Functions.List("projects/acme/locations/us-central1").Filter(`name="x"`).Do()
	if ge, ok := err.(*googleapi.Error); !ok || ge.Code != http.StatusBadRequest {
		t.Errorf("unsupported filter: %v, want 400", err)
	}
}

// gcloud grants run.invoker on a 2nd gen function's service through the
// Cloud Run admin v1 IAM paths; they reach the same policy as v2's.
func TestRunV1ServiceIAM(t *testing.T) {
	f := newFixture(t, "GEN_2")
	run, err := runv1.NewService(f.ctx, f.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	svc := "projects/acme/locations/us-central1/services/hello"
	p, err := run.Projects.Locations.Services.GetIamPolicy(svc).Do()
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &runv1.Binding{Role: "roles/run.invoker", Members: []string{"serviceAccount:" + f.sa.Email}})
	if _, err := run.Projects.Locations.Services.SetIamPolicy(svc, &runv1.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
	resp, _ := f.call(t, "/hello", "Bearer "+f.token(t, f.fn.Url))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after granting run.invoker through v1: %d, want 200", resp.StatusCode)
	}
}
