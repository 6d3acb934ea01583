package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
)

// A negative page size is INVALID_ARGUMENT on every list method (AIP-158),
// not taken as "unspecified"; so is one that is no int32 at all.
func TestNegativePageSizeIsInvalid(t *testing.T) {
	e := start(t)
	sch, _ := cloudscheduler.NewService(e.ctx, e.rest("")...)
	iam, _ := iamv1.NewService(e.ctx, e.rest("")...)
	rm, _ := crm.NewService(e.ctx, e.rest("")...)
	cf, _ := cloudfunctions.NewService(e.ctx, e.rest("")...)
	// Dev mode creates the project acme on first reference.
	for name, call := range map[string]func() error{
		"ListJobs":      func() error { _, err := sch.Projects.Locations.Jobs.List(parent).PageSize(-1).Do(); return err },
		"ListLocations": func() error { _, err := sch.Projects.Locations.List("projects/acme").PageSize(-1).Do(); return err },
		"ListServiceAccounts": func() error {
			_, err := iam.Projects.ServiceAccounts.List("projects/acme").PageSize(-1).Do()
			return err
		},
		"ListRoles":    func() error { _, err := iam.Roles.List().PageSize(-1).Do(); return err },
		"ListProjects": func() error { _, err := rm.Projects.List().PageSize(-1).Do(); return err },
		"ListFunctions": func() error {
			_, err := cf.Projects.Locations.Functions.List("projects/acme/locations/us-central1").PageSize(-1).Do()
			return err
		},
	} {
		t.Run(name, func(t *testing.T) { apiErr(t, call(), 400, "page_size: must not be negative.") })
	}

	resp, err := http.Get(e.api + "/v1/projects?pageSize=many")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `Invalid value at 'page_size' (TYPE_INT32), \"many\"`) {
		t.Fatalf("pageSize=many: %d %s", resp.StatusCode, body)
	}
}
