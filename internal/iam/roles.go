package iam

import (
	"slices"
	"strings"
)

// Role is a predefined role of the catalogue.
type Role struct {
	Name, Title, Description, Stage string
	Permissions                     []string // sorted
}

// The permissions of the services oidcron implements. A permission outside
// this list is granted to no one.
var allPermissions = []string{
	"appengine.applications.get",

	"cloudfunctions.functions.call",
	"cloudfunctions.functions.create",
	"cloudfunctions.functions.delete",
	"cloudfunctions.functions.get",
	"cloudfunctions.functions.getIamPolicy",
	"cloudfunctions.functions.invoke",
	"cloudfunctions.functions.list",
	"cloudfunctions.functions.setIamPolicy",
	"cloudfunctions.functions.sourceCodeGet",
	"cloudfunctions.functions.sourceCodeSet",
	"cloudfunctions.functions.update",
	"cloudfunctions.locations.list",
	"cloudfunctions.operations.get",
	"cloudfunctions.operations.list",

	"cloudscheduler.jobs.create",
	"cloudscheduler.jobs.delete",
	"cloudscheduler.jobs.enable",
	"cloudscheduler.jobs.fullView",
	"cloudscheduler.jobs.get",
	"cloudscheduler.jobs.list",
	"cloudscheduler.jobs.pause",
	"cloudscheduler.jobs.run",
	"cloudscheduler.jobs.update",
	"cloudscheduler.locations.get",
	"cloudscheduler.locations.list",

	"iam.roles.get",
	"iam.roles.list",
	"iam.serviceAccounts.actAs",
	"iam.serviceAccounts.create",
	"iam.serviceAccounts.delete",
	"iam.serviceAccounts.disable",
	"iam.serviceAccounts.enable",
	"iam.serviceAccounts.get",
	"iam.serviceAccounts.getAccessToken",
	"iam.serviceAccounts.getIamPolicy",
	"iam.serviceAccounts.getOpenIdToken",
	"iam.serviceAccounts.implicitDelegation",
	"iam.serviceAccounts.list",
	"iam.serviceAccounts.setIamPolicy",
	"iam.serviceAccounts.signBlob",
	"iam.serviceAccounts.signJwt",
	"iam.serviceAccounts.undelete",
	"iam.serviceAccounts.update",

	"logging.logEntries.create",
	"logging.logEntries.route",

	"pubsub.topics.publish",

	"resourcemanager.projects.create",
	"resourcemanager.projects.delete",
	"resourcemanager.projects.get",
	"resourcemanager.projects.getIamPolicy",
	"resourcemanager.projects.list",
	"resourcemanager.projects.setIamPolicy",
	"resourcemanager.projects.update",

	"run.routes.invoke",
	"run.services.get",
	"run.services.getIamPolicy",
	"run.services.list",
	"run.services.setIamPolicy",

	"serviceusage.services.get",
	"serviceusage.services.list",
}

// shortLivedCredentialPermissions mint credentials for another principal. On
// Google even an Owner needs Token Creator to impersonate, so the basic
// roles leave them out.
var shortLivedCredentialPermissions = []string{
	"iam.serviceAccounts.getAccessToken",
	"iam.serviceAccounts.getOpenIdToken",
	"iam.serviceAccounts.implicitDelegation",
	"iam.serviceAccounts.signBlob",
	"iam.serviceAccounts.signJwt",
}

// Where a role may be bound. Google allows the basic roles on any resource
// with a policy and refuses a service's roles on resources of another
// service ("Role roles/x is not supported for this resource."); project
// creation, like Google's organization-level grant, only on the root.
var (
	onEverything     = []Kind{KindRoot, KindProject, KindServiceAccount, KindFunction, KindService}
	onContainers     = []Kind{KindRoot, KindProject}
	onRootOnly       = []Kind{KindRoot}
	onServiceAccount = []Kind{KindRoot, KindProject, KindServiceAccount}
	onFunction       = []Kind{KindRoot, KindProject, KindFunction}
	onService        = []Kind{KindRoot, KindProject, KindService}
)

type roleDef struct {
	Role
	perms     map[string]struct{}
	grantable []Kind
}

var (
	knownPermissions = toSet(allPermissions)
	roles            = map[string]*roleDef{}
	roleNames        []string
)

func init() {
	schedulerExtras := []string{
		"appengine.applications.get",
		"resourcemanager.projects.get",
		"resourcemanager.projects.list",
		"serviceusage.services.get",
		"serviceusage.services.list",
	}
	owner := without(allPermissions, func(p string) bool { return slices.Contains(shortLivedCredentialPermissions, p) })
	editor := without(owner, func(p string) bool {
		return strings.HasSuffix(p, ".setIamPolicy") || p == "resourcemanager.projects.delete"
	})
	viewer := []string{
		"appengine.applications.get",
		"cloudfunctions.functions.get",
		"cloudfunctions.functions.getIamPolicy",
		"cloudfunctions.functions.list",
		"cloudfunctions.locations.list",
		"cloudfunctions.operations.get",
		"cloudfunctions.operations.list",
		"cloudscheduler.jobs.fullView",
		"cloudscheduler.jobs.get",
		"cloudscheduler.jobs.list",
		"cloudscheduler.locations.get",
		"cloudscheduler.locations.list",
		"iam.roles.get",
		"iam.roles.list",
		"iam.serviceAccounts.get",
		"iam.serviceAccounts.getIamPolicy",
		"iam.serviceAccounts.list",
		"resourcemanager.projects.get",
		"resourcemanager.projects.getIamPolicy",
		"resourcemanager.projects.list",
		"run.services.get",
		"run.services.getIamPolicy",
		"run.services.list",
		"serviceusage.services.get",
		"serviceusage.services.list",
	}
	cloudfunctionsAll := withPrefix("cloudfunctions.")

	def := func(name, title, description string, grantable []Kind, perms ...[]string) {
		var all []string
		for _, ps := range perms {
			all = append(all, ps...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		for _, p := range all {
			if _, ok := knownPermissions[p]; !ok {
				panic("iam: role " + name + " has unknown permission " + p)
			}
		}
		roles[name] = &roleDef{
			Role:      Role{Name: name, Title: title, Description: description, Stage: "GA", Permissions: all},
			perms:     toSet(all),
			grantable: grantable,
		}
		roleNames = append(roleNames, name)
	}

	def("roles/owner", "Owner",
		"Full access to most Google Cloud resources. See the list of included permissions.",
		onEverything, owner)
	def("roles/editor", "Editor",
		"View, create, update, and delete most Google Cloud resources. See the list of included permissions.",
		onEverything, editor)
	def("roles/viewer", "Viewer",
		"View most Google Cloud resources. See the list of included permissions.",
		onEverything, viewer)
	def("roles/resourcemanager.projectCreator", "Project Creator",
		"Provides access to create new projects. Once a user creates a project, they're automatically granted the owner role for that project.",
		onRootOnly, []string{"resourcemanager.projects.create"})

	def("roles/cloudscheduler.admin", "Cloud Scheduler Admin",
		"Full access to Cloud Scheduler resources.",
		onContainers, withPrefix("cloudscheduler."), schedulerExtras)
	def("roles/cloudscheduler.jobRunner", "Cloud Scheduler Job Runner",
		"Access to run Cloud Scheduler jobs.",
		onContainers, []string{"cloudscheduler.jobs.fullView", "cloudscheduler.jobs.run"}, schedulerExtras)
	def("roles/cloudscheduler.viewer", "Cloud Scheduler Viewer",
		"Read access to Cloud Scheduler resources.",
		onContainers, []string{
			"cloudscheduler.jobs.fullView", "cloudscheduler.jobs.get", "cloudscheduler.jobs.list",
			"cloudscheduler.locations.get", "cloudscheduler.locations.list",
		}, schedulerExtras)
	def("roles/cloudscheduler.serviceAgent", "Cloud Scheduler Service Agent",
		"Gives the Cloud Scheduler service agent access to create OIDC and OAuth tokens for job service accounts, write logs and publish to Pub/Sub topics. Do not grant service agent roles to any principals except service agents.",
		onContainers, []string{
			"iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
			"logging.logEntries.create", "logging.logEntries.route", "pubsub.topics.publish",
		})

	def("roles/iam.serviceAccountUser", "Service Account User",
		"Run operations as the service account.",
		onServiceAccount, []string{
			"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list",
			"resourcemanager.projects.get", "resourcemanager.projects.list",
		})
	def("roles/iam.serviceAccountTokenCreator", "Service Account Token Creator",
		"Impersonate service accounts (create OAuth2 access tokens, sign blobs or JWTs, etc).",
		onServiceAccount, shortLivedCredentialPermissions, []string{
			"iam.serviceAccounts.get", "iam.serviceAccounts.list",
			"resourcemanager.projects.get", "resourcemanager.projects.list",
		})
	def("roles/iam.serviceAccountAdmin", "Service Account Admin",
		"Create and manage service accounts.",
		onServiceAccount, []string{
			"iam.serviceAccounts.create", "iam.serviceAccounts.delete", "iam.serviceAccounts.disable",
			"iam.serviceAccounts.enable", "iam.serviceAccounts.get", "iam.serviceAccounts.getIamPolicy",
			"iam.serviceAccounts.list", "iam.serviceAccounts.setIamPolicy", "iam.serviceAccounts.undelete",
			"iam.serviceAccounts.update",
			"resourcemanager.projects.get", "resourcemanager.projects.list",
		})

	def("roles/cloudfunctions.invoker", "Cloud Functions Invoker",
		"Ability to invoke 1st gen HTTP functions with restricted access. 2nd gen functions need the Cloud Run Invoker role instead.",
		onFunction, []string{"cloudfunctions.functions.invoke"})
	def("roles/cloudfunctions.admin", "Cloud Functions Admin",
		"Full access to functions, operations and locations.",
		onFunction, cloudfunctionsAll, []string{"resourcemanager.projects.list"})
	def("roles/cloudfunctions.developer", "Cloud Functions Developer",
		"Read and write access to all functions-related resources.",
		onFunction, without(cloudfunctionsAll, func(p string) bool { return p == "cloudfunctions.functions.setIamPolicy" }),
		[]string{"resourcemanager.projects.list"})
	def("roles/cloudfunctions.viewer", "Cloud Functions Viewer",
		"Read-only access to functions and locations.",
		onFunction, []string{
			"cloudfunctions.functions.get", "cloudfunctions.functions.list", "cloudfunctions.locations.list",
			"cloudfunctions.operations.get", "cloudfunctions.operations.list",
			"resourcemanager.projects.list",
		})

	def("roles/run.invoker", "Cloud Run Invoker",
		"Can invoke Cloud Run services and execute Cloud Run jobs",
		onService, []string{"run.routes.invoke"})
	def("roles/run.servicesInvoker", "Cloud Run Service Invoker",
		"Can invoke Cloud Run services",
		onService, []string{"run.routes.invoke"})

	slices.Sort(roleNames)
}

func toSet(ps []string) map[string]struct{} {
	s := make(map[string]struct{}, len(ps))
	for _, p := range ps {
		s[p] = struct{}{}
	}
	return s
}

func without(ps []string, drop func(string) bool) []string {
	var out []string
	for _, p := range ps {
		if !drop(p) {
			out = append(out, p)
		}
	}
	return out
}

func withPrefix(prefix string) []string {
	var out []string
	for _, p := range allPermissions {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return out
}

func (r *roleDef) clone() *Role {
	c := r.Role
	c.Permissions = slices.Clone(r.Permissions)
	return &c
}

// GetRole returns a copy of a predefined role.
func GetRole(name string) (*Role, bool) {
	r, ok := roles[name]
	if !ok {
		return nil, false
	}
	return r.clone(), true
}

// ListRoles returns copies of every predefined role, sorted by name.
func ListRoles() []*Role {
	out := make([]*Role, 0, len(roleNames))
	for _, n := range roleNames {
		out = append(out, roles[n].clone())
	}
	return out
}

// Permissions lists every permission oidcron knows, sorted.
func Permissions() []string {
	out := slices.Clone(allPermissions)
	slices.Sort(out)
	return out
}

// KnownPermission reports whether p is a permission of the services oidcron
// implements.
func KnownPermission(p string) bool {
	_, ok := knownPermissions[p]
	return ok
}

// RoleGrants reports whether the predefined role contains permission.
func RoleGrants(role, permission string) bool {
	r, ok := roles[role]
	if !ok {
		return false
	}
	_, ok = r.perms[permission]
	return ok
}

// RoleSupportedOn reports whether role may be bound in the policy of a
// resource of kind k.
func RoleSupportedOn(role string, k Kind) bool {
	r, ok := roles[role]
	return ok && slices.Contains(r.grantable, k)
}
