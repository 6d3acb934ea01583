package iam

import (
	"slices"
	"strings"
	"testing"
)

func TestRolesCatalogue(t *testing.T) {
	list := ListRoles()
	if len(list) != 17 {
		t.Errorf("%d roles, want 17", len(list))
	}
	if !slices.IsSortedFunc(list, func(a, b *Role) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("ListRoles is not sorted by name")
	}
	for _, r := range list {
		if r.Title == "" || r.Description == "" || r.Stage != "GA" || !strings.HasPrefix(r.Name, "roles/") {
			t.Errorf("%s: incomplete %+v", r.Name, r)
		}
		if len(r.Permissions) == 0 || !slices.IsSorted(r.Permissions) || len(slices.Compact(slices.Clone(r.Permissions))) != len(r.Permissions) {
			t.Errorf("%s: permissions empty, unsorted or repeated: %q", r.Name, r.Permissions)
		}
		for _, p := range r.Permissions {
			if !KnownPermission(p) {
				t.Errorf("%s has unknown permission %q", r.Name, p)
			}
			if !RoleGrants(r.Name, p) {
				t.Errorf("RoleGrants(%s, %s) = false", r.Name, p)
			}
		}
	}
	if !slices.IsSorted(Permissions()) || len(Permissions()) != len(allPermissions) {
		t.Error("Permissions() is not the sorted permission list")
	}
}

func TestRolePermissions(t *testing.T) {
	tests := []struct {
		role, permission string
		want             bool
	}{
		{"roles/owner", "iam.serviceAccounts.getOpenIdToken", false},
		{"roles/owner", "iam.serviceAccounts.getAccessToken", false},
		{"roles/owner", "iam.serviceAccounts.signBlob", false},
		{"roles/owner", "iam.serviceAccounts.signJwt", false},
		{"roles/owner", "iam.serviceAccounts.implicitDelegation", false},
		{"roles/owner", "iam.serviceAccounts.actAs", true},
		{"roles/owner", "resourcemanager.projects.setIamPolicy", true},
		{"roles/owner", "resourcemanager.projects.delete", true},
		{"roles/owner", "cloudfunctions.functions.invoke", true},
		{"roles/owner", "run.routes.invoke", true},
		{"roles/editor", "resourcemanager.projects.setIamPolicy", false},
		{"roles/editor", "iam.serviceAccounts.setIamPolicy", false},
		{"roles/editor", "cloudfunctions.functions.setIamPolicy", false},
		{"roles/editor", "run.services.setIamPolicy", false},
		{"roles/editor", "resourcemanager.projects.delete", false},
		{"roles/editor", "resourcemanager.projects.getIamPolicy", true},
		{"roles/editor", "cloudscheduler.jobs.create", true},
		{"roles/editor", "cloudfunctions.functions.invoke", true},
		{"roles/editor", "iam.serviceAccounts.getOpenIdToken", false},
		{"roles/viewer", "cloudscheduler.jobs.get", true},
		{"roles/viewer", "resourcemanager.projects.getIamPolicy", true},
		{"roles/viewer", "cloudscheduler.jobs.run", false},
		{"roles/viewer", "cloudfunctions.functions.invoke", false},
		{"roles/viewer", "iam.serviceAccounts.actAs", false},
		{"roles/cloudscheduler.serviceAgent", "iam.serviceAccounts.getOpenIdToken", true},
		{"roles/cloudscheduler.serviceAgent", "iam.serviceAccounts.getAccessToken", true},
		{"roles/cloudscheduler.serviceAgent", "iam.serviceAccounts.actAs", false},
		{"roles/cloudscheduler.admin", "cloudscheduler.jobs.create", true},
		{"roles/cloudscheduler.admin", "serviceusage.services.list", true},
		{"roles/cloudscheduler.admin", "iam.serviceAccounts.actAs", false},
		{"roles/cloudscheduler.jobRunner", "cloudscheduler.jobs.run", true},
		{"roles/cloudscheduler.jobRunner", "cloudscheduler.jobs.update", false},
		{"roles/cloudscheduler.viewer", "cloudscheduler.jobs.fullView", true},
		{"roles/cloudscheduler.viewer", "cloudscheduler.jobs.run", false},
		{"roles/iam.serviceAccountUser", "iam.serviceAccounts.actAs", true},
		{"roles/iam.serviceAccountUser", "iam.serviceAccounts.getOpenIdToken", false},
		{"roles/iam.serviceAccountTokenCreator", "iam.serviceAccounts.getOpenIdToken", true},
		{"roles/iam.serviceAccountTokenCreator", "iam.serviceAccounts.implicitDelegation", true},
		{"roles/iam.serviceAccountTokenCreator", "iam.serviceAccounts.actAs", false},
		{"roles/iam.serviceAccountAdmin", "iam.serviceAccounts.create", true},
		{"roles/iam.serviceAccountAdmin", "iam.serviceAccounts.actAs", false},
		{"roles/resourcemanager.projectCreator", "resourcemanager.projects.create", true},
		{"roles/cloudfunctions.invoker", "cloudfunctions.functions.invoke", true},
		{"roles/cloudfunctions.invoker", "run.routes.invoke", false},
		{"roles/cloudfunctions.admin", "cloudfunctions.functions.setIamPolicy", true},
		{"roles/cloudfunctions.developer", "cloudfunctions.functions.setIamPolicy", false},
		{"roles/cloudfunctions.developer", "cloudfunctions.functions.invoke", true},
		{"roles/cloudfunctions.viewer", "cloudfunctions.functions.get", true},
		{"roles/cloudfunctions.viewer", "cloudfunctions.functions.invoke", false},
		{"roles/run.invoker", "run.routes.invoke", true},
		{"roles/run.invoker", "cloudfunctions.functions.invoke", false},
		{"roles/run.servicesInvoker", "run.routes.invoke", true},
		{"roles/nope", "run.routes.invoke", false},
		{"roles/owner", "storage.buckets.get", false},
	}
	for _, tt := range tests {
		if got := RoleGrants(tt.role, tt.permission); got != tt.want {
			t.Errorf("RoleGrants(%s, %s) = %v, want %v", tt.role, tt.permission, got, tt.want)
		}
	}
}

func TestRoleSupportedOn(t *testing.T) {
	tests := []struct {
		role string
		kind Kind
		want bool
	}{
		{"roles/owner", KindRoot, true},
		{"roles/owner", KindProject, true},
		{"roles/owner", KindServiceAccount, true},
		{"roles/owner", KindFunction, true},
		{"roles/viewer", KindService, true},
		{"roles/owner", KindJob, false},
		{"roles/resourcemanager.projectCreator", KindRoot, true},
		{"roles/resourcemanager.projectCreator", KindProject, false},
		{"roles/cloudscheduler.admin", KindProject, true},
		{"roles/cloudscheduler.admin", KindRoot, true},
		{"roles/cloudscheduler.admin", KindServiceAccount, false},
		{"roles/cloudscheduler.serviceAgent", KindServiceAccount, false},
		{"roles/cloudscheduler.jobRunner", KindJob, false},
		{"roles/iam.serviceAccountUser", KindServiceAccount, true},
		{"roles/iam.serviceAccountTokenCreator", KindServiceAccount, true},
		{"roles/iam.serviceAccountUser", KindFunction, false},
		{"roles/cloudfunctions.invoker", KindFunction, true},
		{"roles/cloudfunctions.invoker", KindService, false},
		{"roles/cloudfunctions.invoker", KindServiceAccount, false},
		{"roles/run.invoker", KindFunction, false},
		{"roles/run.invoker", KindService, true},
		{"roles/run.invoker", KindProject, true},
		{"roles/nope", KindRoot, false},
	}
	for _, tt := range tests {
		if got := RoleSupportedOn(tt.role, tt.kind); got != tt.want {
			t.Errorf("RoleSupportedOn(%s, %v) = %v, want %v", tt.role, tt.kind, got, tt.want)
		}
	}
}

func TestGetRole(t *testing.T) {
	r, ok := GetRole("roles/cloudfunctions.invoker")
	if !ok {
		t.Fatal("roles/cloudfunctions.invoker missing")
	}
	if r.Title != "Cloud Functions Invoker" ||
		r.Description != "Ability to invoke 1st gen HTTP functions with restricted access. 2nd gen functions need the Cloud Run Invoker role instead." ||
		!slices.Equal(r.Permissions, []string{"cloudfunctions.functions.invoke"}) {
		t.Errorf("invoker = %+v", r)
	}
	r.Permissions[0] = "run.routes.invoke"
	if !RoleGrants("roles/cloudfunctions.invoker", "cloudfunctions.functions.invoke") || RoleGrants("roles/cloudfunctions.invoker", "run.routes.invoke") {
		t.Error("changing a returned role changed the catalogue")
	}
	if again, _ := GetRole("roles/cloudfunctions.invoker"); again.Permissions[0] != "cloudfunctions.functions.invoke" {
		t.Error("GetRole returned the catalogue's own slice")
	}
	if _, ok := GetRole("roles/nope"); ok {
		t.Error("GetRole found roles/nope")
	}
	if r, _ := GetRole("roles/run.invoker"); r.Description != "Can invoke Cloud Run services and execute Cloud Run jobs" {
		t.Errorf("run.invoker description %q", r.Description)
	}
}
