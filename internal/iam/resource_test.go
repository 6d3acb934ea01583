package iam

import (
	"slices"
	"testing"
)

func TestResourceNames(t *testing.T) {
	tests := []struct {
		name    string
		kind    Kind
		parent  string // "" when none
		project string // "" when none
	}{
		{RootResource, KindRoot, "", ""},
		{ProjectResource("p"), KindProject, RootResource, "p"},
		{ServiceAccountResource("p", "sa@p.iam.gserviceaccount.com"), KindServiceAccount, "projects/p", "p"},
		{LocationResource("p", "europe-west1"), KindLocation, "projects/p", "p"},
		{FunctionResource("p", "europe-west1", "fn"), KindFunction, "projects/p", "p"},
		{JobResource("p", "us-central1", "j"), KindJob, "projects/p", "p"},
		{ServiceResource("p", "us-central1", "svc"), KindService, "projects/p", "p"},
		{"", KindUnknown, "", ""},
		{"projects", KindUnknown, "", ""},
		{"projects/", KindUnknown, "", ""},
		{"projects//serviceAccounts/x", KindUnknown, "", ""},
		{"projects/p/", KindUnknown, "", ""},
		{"folders/1", KindUnknown, "", ""},
		{"//oidcron/x", KindUnknown, "", ""},
		{"projects/p/locations/l/queues/q", KindUnknown, "", ""},
		{"projects/p/zones/z/functions/f", KindUnknown, "", ""},
		{"projects/p/locations/l/functions/f/x", KindUnknown, "", ""},
		{"projects/p/keys/k", KindUnknown, "", ""},
	}
	for _, tt := range tests {
		if got := KindOf(tt.name); got != tt.kind {
			t.Errorf("KindOf(%q) = %v, want %v", tt.name, got, tt.kind)
		}
		parent, ok := Parent(tt.name)
		if parent != tt.parent || ok != (tt.parent != "") {
			t.Errorf("Parent(%q) = %q, %v; want %q", tt.name, parent, ok, tt.parent)
		}
		project, ok := ProjectOf(tt.name)
		if project != tt.project || ok != (tt.project != "") {
			t.Errorf("ProjectOf(%q) = %q, %v; want %q", tt.name, project, ok, tt.project)
		}
	}
	if got := FunctionResource("p", "l", "f"); got != "projects/p/locations/l/functions/f" {
		t.Errorf("FunctionResource = %q", got)
	}
	if got := JobResource("p", "l", "j"); got != "projects/p/locations/l/jobs/j" {
		t.Errorf("JobResource = %q", got)
	}
	if got := ServiceAccountResource("p", "a@b.c"); got != "projects/p/serviceAccounts/a@b.c" {
		t.Errorf("ServiceAccountResource = %q", got)
	}
}

func TestAncestors(t *testing.T) {
	got, err := Ancestors(FunctionResource("p", "l", "f"))
	if want := []string{"projects/p/locations/l/functions/f", "projects/p", RootResource}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Ancestors(function) = %q, %v; want %q", got, err, want)
	}
	got, err = Ancestors(RootResource)
	if want := []string{RootResource}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Ancestors(root) = %q, %v", got, err)
	}
	if _, err := Ancestors("folders/1"); err == nil {
		t.Error("Ancestors of an unknown name succeeded")
	}
}
