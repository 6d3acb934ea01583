package server_test

import (
	"regexp"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
)

// The v1 project shapes gcloud prints: createTime in milliseconds, and the
// list filter applied (or refused), never ignored.
func TestV1ProjectListFilterAndTimes(t *testing.T) {
	e := start(t)
	svc, err := crm.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alpha-project", "beta-project"} {
		if _, err := svc.Projects.Create(&crm.Project{ProjectId: id, Name: "The " + id[:4], Labels: map[string]string{"team": id[:4]}}).Do(); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(filter string) []string {
		t.Helper()
		r, err := svc.Projects.List().Filter(filter).Do()
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		var out []string
		for _, p := range r.Projects {
			out = append(out, p.ProjectId)
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(p.CreateTime) {
				t.Errorf("createTime %q: want RFC 3339 with milliseconds", p.CreateTime)
			}
		}
		return out
	}
	if got := ids("lifecycleState:ACTIVE"); len(got) != 2 {
		t.Errorf("lifecycleState:ACTIVE: %v", got)
	}
	if got := ids("id:alpha-*"); len(got) != 1 || got[0] != "alpha-project" {
		t.Errorf("id:alpha-*: %v", got)
	}
	if got := ids("labels.team=beta lifecycleState:active"); len(got) != 1 || got[0] != "beta-project" {
		t.Errorf("labels.team=beta: %v", got)
	}
	if got := ids(`name:"the beta"`); len(got) != 1 || got[0] != "beta-project" {
		t.Errorf(`name:"the beta": %v`, got)
	}
	if got := ids("id:nothing"); len(got) != 0 {
		t.Errorf("id:nothing: %v", got)
	}
	_, err = svc.Projects.List().Filter("parent.id:123").Do()
	apiErr(t, err, 400, `filter: field "parent.id" is not one of name, id, lifecycleState, labels.KEY.`)
}

// Predefined roles carry the etag Google shows for them.
func TestPredefinedRoleEtag(t *testing.T) {
	e := start(t)
	svc, err := iamv1.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Roles.Get("roles/run.invoker").Do()
	if err != nil {
		t.Fatal(err)
	}
	if r.Etag != "AA==" {
		t.Errorf("etag %q, want AA==", r.Etag)
	}
}
