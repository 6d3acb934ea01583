package rowcodec

import (
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
)

// JobKey splits "projects/P/locations/L/jobs/J", refusing an empty part or
// a '/' in one: the PostgreSQL backend finds one location's jobs as the
// range of names with the prefix "projects/P/locations/L/jobs/".
func JobKey(backend, name string) (project, location string, err error) {
	project, location, ok := splitName(name, "jobs")
	if !ok {
		return "", "", fmt.Errorf("%s: job name %q is not projects/P/locations/L/jobs/J", backend, name)
	}
	return project, location, nil
}

// FunctionKey splits "projects/ID/locations/L/functions/F" as JobKey
// splits a job's name.
func FunctionKey(backend, name string) (project, location string, err error) {
	project, location, ok := splitName(name, "functions")
	if !ok {
		return "", "", fmt.Errorf("%s: function name %q is not projects/ID/locations/L/functions/F", backend, name)
	}
	return project, location, nil
}

// splitName splits "projects/P/locations/L/<collection>/N".
func splitName(name, collection string) (project, location string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != collection ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// ProjectColumns checks p and returns its number, read from its name
// "projects/NUMBER", and its record.
func ProjectColumns(backend string, p *resourcemanagerpb.Project) (number int64, rec []byte, err error) {
	if p.GetProjectId() == "" {
		return 0, nil, fmt.Errorf("%s: project without a project_id", backend)
	}
	s, ok := strings.CutPrefix(p.GetName(), "projects/")
	number, err = strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || number <= 0 {
		return 0, nil, fmt.Errorf("%s: project %q: name %q is not projects/NUMBER", backend, p.GetProjectId(), p.GetName())
	}
	rec, err = Encode(backend, "project", p)
	return number, rec, err
}

// ServiceAccountRecord checks that sa has the fields its columns hold and
// returns its record.
func ServiceAccountRecord(backend string, sa *adminpb.ServiceAccount) ([]byte, error) {
	if sa.GetUniqueId() == "" || sa.GetEmail() == "" || sa.GetProjectId() == "" {
		return nil, fmt.Errorf("%s: service account %q needs unique_id, email and project_id", backend, sa.GetName())
	}
	return Encode(backend, "service account", sa)
}
