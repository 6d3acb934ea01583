// Package iam decides access in oidcron. It holds the principal grammar, the
// predefined roles, policy validation and normalisation (version, etag), the
// resource hierarchy, and Authorize: the single function every access
// question goes through, which returns a Decision that explains itself in
// the shape of Google's Policy Troubleshooter.
//
// The package is pure: no I/O and no clock. Policies reach it through a
// PolicySource supplied by the caller, so the same code serves the API, the
// invoker gateway and the doctor.
package iam

import (
	"fmt"
	"strings"
)

// RootResource names the installation. It plays the part an organization
// plays on Google: its policy holds installation-wide grants, inherited by
// every project.
const RootResource = "//oidcron"

// Kind is the type of a resource named in the hierarchy.
type Kind int

const (
	KindUnknown Kind = iota
	KindRoot
	KindProject
	KindServiceAccount
	KindFunction
	KindJob
	KindLocation // "projects/ID/locations/L"
	// KindService is a Cloud Run service, "projects/ID/locations/L/services/S":
	// the resource a 2nd gen function's invoker check runs against.
	KindService
)

func (k Kind) String() string {
	switch k {
	case KindRoot:
		return "root"
	case KindProject:
		return "project"
	case KindServiceAccount:
		return "service account"
	case KindFunction:
		return "function"
	case KindJob:
		return "job"
	case KindLocation:
		return "location"
	case KindService:
		return "Cloud Run service"
	}
	return "unknown"
}

// ProjectResource is the canonical name of a project: "projects/ID".
func ProjectResource(projectID string) string { return "projects/" + projectID }

// ServiceAccountResource is "projects/ID/serviceAccounts/EMAIL". Policies are
// keyed by email, never by unique id, so one account has one name.
func ServiceAccountResource(projectID, email string) string {
	return "projects/" + projectID + "/serviceAccounts/" + email
}

// LocationResource is "projects/ID/locations/L".
func LocationResource(projectID, location string) string {
	return "projects/" + projectID + "/locations/" + location
}

// FunctionResource is "projects/ID/locations/L/functions/F".
func FunctionResource(projectID, location, function string) string {
	return LocationResource(projectID, location) + "/functions/" + function
}

// JobResource is "projects/ID/locations/L/jobs/J".
func JobResource(projectID, location, job string) string {
	return LocationResource(projectID, location) + "/jobs/" + job
}

// ServiceResource is the Cloud Run service "projects/ID/locations/L/services/S".
func ServiceResource(projectID, location, service string) string {
	return LocationResource(projectID, location) + "/services/" + service
}

// parseResource splits a canonical name into its kind and project id.
func parseResource(resource string) (Kind, string) {
	if resource == RootResource {
		return KindRoot, ""
	}
	parts := strings.Split(resource, "/")
	for _, p := range parts {
		if p == "" {
			return KindUnknown, ""
		}
	}
	if parts[0] != "projects" || len(parts) < 2 {
		return KindUnknown, ""
	}
	project := parts[1]
	switch len(parts) {
	case 2:
		return KindProject, project
	case 4:
		switch parts[2] {
		case "serviceAccounts":
			return KindServiceAccount, project
		case "locations":
			return KindLocation, project
		}
	case 6:
		if parts[2] != "locations" {
			break
		}
		switch parts[4] {
		case "functions":
			return KindFunction, project
		case "jobs":
			return KindJob, project
		case "services":
			return KindService, project
		}
	}
	return KindUnknown, ""
}

// KindOf tells what a canonical resource name names; KindUnknown for
// anything else, including names with empty segments.
func KindOf(resource string) Kind {
	k, _ := parseResource(resource)
	return k
}

// ProjectOf returns the id of the project a resource belongs to (the project
// itself for a project); false for the root and unknown names.
func ProjectOf(resource string) (string, bool) {
	k, p := parseResource(resource)
	return p, k != KindRoot && k != KindUnknown
}

// Parent returns the next node up the policy hierarchy. Locations hold no
// policies, so a function, job or service inherits straight from its
// project; a project inherits from the root; the root and unknown names have
// no parent.
func Parent(resource string) (string, bool) {
	switch k, project := parseResource(resource); k {
	case KindRoot, KindUnknown:
		return "", false
	case KindProject:
		return RootResource, true
	default:
		return ProjectResource(project), true
	}
}

// Ancestors lists the names a PolicySource must return for resource: the
// resource itself and every ancestor up to RootResource, nearest first.
func Ancestors(resource string) ([]string, error) {
	if KindOf(resource) == KindUnknown {
		return nil, fmt.Errorf("iam: %q is not a resource name oidcron knows", resource)
	}
	chain := []string{resource}
	for r, ok := Parent(resource); ok; r, ok = Parent(r) {
		chain = append(chain, r)
	}
	return chain, nil
}

// SchedulerServiceAgent is the email of a project's Cloud Scheduler service
// agent, as Google names it. The agent mints the tokens jobs send.
func SchedulerServiceAgent(projectNumber int64) string {
	return fmt.Sprintf("service-%d@gcp-sa-cloudscheduler.iam.gserviceaccount.com", projectNumber)
}
