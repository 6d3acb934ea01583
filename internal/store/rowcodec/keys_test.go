package rowcodec

import (
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/proto"
)

func TestJobAndFunctionKeys(t *testing.T) {
	for _, tc := range []struct {
		split      func(backend, name string) (string, string, error)
		collection string
	}{{JobKey, "jobs"}, {FunctionKey, "functions"}} {
		p, l, err := tc.split("sqlite", "projects/p1/locations/us-central1/"+tc.collection+"/x")
		if err != nil || p != "p1" || l != "us-central1" {
			t.Errorf("%s: valid name: %q, %q, %v", tc.collection, p, l, err)
		}
		for _, bad := range []string{
			"",
			"projects/p1/locations/us-central1/" + tc.collection,
			"projects/p1/locations/us-central1/" + tc.collection + "/x/y",
			"projects//locations/l/" + tc.collection + "/x",
			"projects/p/locations//" + tc.collection + "/x",
			"projects/p/locations/l/" + tc.collection + "/",
			"projects/p/regions/l/" + tc.collection + "/x",
			"folders/p/locations/l/" + tc.collection + "/x",
			"projects/p/locations/l/other/x",
		} {
			if _, _, err := tc.split("sqlite", bad); err == nil || !strings.HasPrefix(err.Error(), "sqlite: ") {
				t.Errorf("%s: %q accepted (%v)", tc.collection, bad, err)
			}
		}
	}
}

func TestProjectColumns(t *testing.T) {
	p := &resourcemanagerpb.Project{Name: "projects/123", ProjectId: "p", DisplayName: "P"}
	n, rec, err := ProjectColumns("postgres", p)
	if err != nil || n != 123 {
		t.Fatalf("ProjectColumns = %d, %v", n, err)
	}
	if got, err := Decode("postgres", "project", rec, &resourcemanagerpb.Project{}); err != nil || !proto.Equal(got, p) {
		t.Fatalf("the record decodes to %v, %v", got, err)
	}
	for _, bad := range []*resourcemanagerpb.Project{
		{Name: "projects/123"},
		{Name: "projects/0", ProjectId: "p"},
		{Name: "projects/-1", ProjectId: "p"},
		{Name: "projects/p", ProjectId: "p"},
		{Name: "projects/", ProjectId: "p"},
		{Name: "folders/123", ProjectId: "p"},
		{Name: "123", ProjectId: "p"},
		{Name: "projects/123", ProjectId: "p", DisplayName: "\xff"},
	} {
		if _, _, err := ProjectColumns("postgres", bad); err == nil || !strings.HasPrefix(err.Error(), "postgres: ") {
			t.Errorf("ProjectColumns(%v): %v", bad, err)
		}
	}
}

func TestServiceAccountRecord(t *testing.T) {
	sa := &adminpb.ServiceAccount{UniqueId: "1", Email: "a@p.iam.gserviceaccount.com", ProjectId: "p"}
	rec, err := ServiceAccountRecord("sqlite", sa)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode("sqlite", "service account", rec, &adminpb.ServiceAccount{}); err != nil || !proto.Equal(got, sa) {
		t.Fatalf("the record decodes to %v, %v", got, err)
	}
	for _, unset := range []func(*adminpb.ServiceAccount){
		func(s *adminpb.ServiceAccount) { s.UniqueId = "" },
		func(s *adminpb.ServiceAccount) { s.Email = "" },
		func(s *adminpb.ServiceAccount) { s.ProjectId = "" },
	} {
		bad := proto.Clone(sa).(*adminpb.ServiceAccount)
		unset(bad)
		if _, err := ServiceAccountRecord("sqlite", bad); err == nil || !strings.Contains(err.Error(), "needs unique_id, email and project_id") {
			t.Errorf("ServiceAccountRecord(%v): %v", bad, err)
		}
	}
}
