package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	appengine "google.golang.org/api/appengine/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// The App Engine Admin API's apps.get, for one reason: gcloud's scheduler
// commands without --location ask it whether the project has an App Engine
// application and, only if it has, take the first location of Cloud
// Scheduler's ListLocations (which lists the default location first). So
// every project oidcron hosts has an application in the default location.
// No compiled proto describes this API here, so, as for Resource Manager v1,
// the reply is rendered with the REST client library's own type.

// HandleAppEngine mounts GET /v1/apps/{appsId}.
func (s *Server) HandleAppEngine(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/apps/{id}", s.v1(func(ctx context.Context, r *http.Request) (any, error) {
		return s.application(ctx, r.PathValue("id"))
	}, "/google.appengine.v1.Applications/GetApplication"))
}

// appNotFound is App Engine's answer for a project without an application.
func appNotFound(id string) error {
	return status.Errorf(codes.NotFound, "Could not find Application %q.", id)
}

// application answers apps.get. The project must exist (it is not created on
// first reference: asking whether an app exists creates nothing); a missing
// one has no application. The caller needs appengine.applications.get on the
// project. With --require-auth, a caller who would not hold it there is denied
// whether or not the project exists, so the answer does not reveal which
// project ids exist; in dev mode every reference creates projects anyway.
func (s *Server) application(ctx context.Context, id string) (*appengine.Application, error) {
	const perm = "appengine.applications.get"
	deny := func() error { return status.Error(codes.PermissionDenied, "The caller does not have permission") }
	p, err := s.dir.Project(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.GetProjectId() != id) {
		// Applications are named by project id only ("apps/NUMBER" is no app).
		if s.cfg.RequireAuth {
			if err := s.check(ctx, perm, iam.ProjectResource(id), deny); err != nil {
				return nil, err
			}
		}
		return nil, appNotFound(id)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := s.check(ctx, perm, iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	region := s.regions()[0]
	return &appengine.Application{
		Name:            "apps/" + id,
		Id:              id,
		LocationId:      appEngineLocation(region),
		ServingStatus:   "SERVING",
		AuthDomain:      "gmail.com",
		DefaultHostname: id + ".appspot.com",
		DefaultBucket:   id + ".appspot.com",
		CodeBucket:      "staging." + id + ".appspot.com",
		GcrDomain:       gcrDomain(region),
		ServiceAccount:  id + "@appspot.gserviceaccount.com",
		DatabaseType:    "CLOUD_DATASTORE_COMPATIBILITY",
		FeatureSettings: &appengine.FeatureSettings{SplitHealthChecks: true, UseContainerOptimizedOs: true},
	}, nil
}

// appEngineLocation is App Engine's name for a Cloud region: the same,
// except the two oldest App Engine locations, whose names lack the final 1
// (Cloud Scheduler's us-central1 is App Engine's us-central).
func appEngineLocation(region string) string {
	switch region {
	case "us-central1":
		return "us-central"
	case "europe-west1":
		return "europe-west"
	}
	return region
}

// gcrDomain is the Container Registry host of an application's region.
func gcrDomain(region string) string {
	switch {
	case strings.HasPrefix(region, "europe-"):
		return "eu.gcr.io"
	case strings.HasPrefix(region, "asia-"), strings.HasPrefix(region, "australia-"):
		return "asia.gcr.io"
	}
	return "us.gcr.io"
}
