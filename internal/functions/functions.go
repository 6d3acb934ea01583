// Package functions says what a function is in oidcron: an HTTP upstream
// that oidcron fronts, named and addressed as Cloud Functions names and
// addresses its functions. The API, the gateway and the doctor share these
// rules so they can never disagree about a URL.
package functions

import (
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/functions/apiv2/functionspb"
)

// UpstreamEnv is the environment variable of a function's service config
// that names the HTTP upstream oidcron fronts. oidcron runs no code, so the
// deploy carries that URL in a field Google's API already has, and every
// client can set it.
const UpstreamEnv = "OIDCRON_UPSTREAM"

// regionRule is the shape of every Google Cloud region ("us-central1",
// "northamerica-northeast1"): exactly one hyphen, ending in a digit. It
// makes the host REGION-PROJECT.cloudfunctions.net split one way only, so
// two functions can never share a canonical URL (and so an audience).
var regionRule = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)

// ValidRegion reports whether s has the shape of a region.
func ValidRegion(s string) bool { return regionRule.MatchString(s) }

// SplitHost splits the first label of a cloudfunctions.net host,
// "REGION-PROJECT", into its region and project.
func SplitHost(label string) (region, project string, ok bool) {
	first, rest, ok1 := strings.Cut(label, "-")
	second, project, ok2 := strings.Cut(rest, "-")
	region = first + "-" + second
	if !ok1 || !ok2 || project == "" || !ValidRegion(region) {
		return "", "", false
	}
	return region, project, true
}

// URL is a function's canonical URL, as Cloud Functions gives it.
func URL(projectID, location, function string) string {
	return fmt.Sprintf("https://%s-%s.cloudfunctions.net/%s", location, projectID, function)
}

// PathURL is the function's URL in the gateway's path form.
func PathURL(gatewayBase, projectID, location, function string) string {
	return strings.TrimSuffix(gatewayBase, "/") + "/" + projectID + "/" + location + "/" + function
}

// Upstream returns the URL a function forwards to.
func Upstream(f *functionspb.Function) string {
	return f.GetServiceConfig().GetEnvironmentVariables()[UpstreamEnv]
}

// IsGen2 reports whether a function is 2nd gen.
func IsGen2(f *functionspb.Function) bool { return f.GetEnvironment() == functionspb.Environment_GEN_2 }

// InvokePermission is what a caller must hold to invoke f: 1st gen checks
// cloudfunctions.functions.invoke, 2nd gen run.routes.invoke, as on Google.
func InvokePermission(f *functionspb.Function) string {
	if IsGen2(f) {
		return "run.routes.invoke"
	}
	return "cloudfunctions.functions.invoke"
}

// InvokeResource is where the invoke permission is checked: the function
// itself for 1st gen, its underlying Cloud Run service for 2nd gen (where
// Google binds roles/run.invoker).
func InvokeResource(f *functionspb.Function) string {
	if IsGen2(f) {
		if s := f.GetServiceConfig().GetService(); s != "" {
			return s
		}
		if p, l, n, ok := Parts(f.GetName()); ok {
			return "projects/" + p + "/locations/" + l + "/services/" + n
		}
	}
	return f.GetName()
}

// Parts splits "projects/P/locations/L/functions/F".
func Parts(name string) (project, location, function string, ok bool) {
	p := strings.Split(name, "/")
	if len(p) != 6 || p[0] != "projects" || p[2] != "locations" || p[4] != "functions" || p[1] == "" || p[3] == "" || p[5] == "" {
		return "", "", "", false
	}
	return p[1], p[3], p[5], true
}
