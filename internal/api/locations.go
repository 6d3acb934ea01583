package api

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// schedulerRegions are the regions Cloud Scheduler lists; the default
// location comes first.
var schedulerRegions = []string{
	"us-central1", "us-east1", "us-east4", "us-west1", "us-west2", "europe-west1", "europe-west2",
	"europe-west3", "europe-west6", "asia-east1", "asia-east2", "asia-northeast1", "asia-south1",
	"asia-southeast1", "australia-southeast1", "northamerica-northeast1", "southamerica-east1",
}

// Locations implements google.cloud.location.Locations for Cloud Scheduler.
type Locations struct {
	location.UnimplementedLocationsServer
	s *Server
}

func (s *Server) regions() []string {
	def := s.cfg.DefaultLocation
	if def == "" {
		def = "us-central1"
	}
	out := []string{def}
	for _, r := range schedulerRegions {
		if r != def {
			out = append(out, r)
		}
	}
	return out
}

func locationOf(project, region string) *location.Location {
	return &location.Location{
		Name: "projects/" + project + "/locations/" + region, LocationId: region, DisplayName: region,
		Labels: map[string]string{"cloud.googleapis.com/region": region},
	}
}

func (x *Locations) ListLocations(ctx context.Context, req *location.ListLocationsRequest) (*location.ListLocationsResponse, error) {
	deny := func() error { return deniedPrincipal("cloudscheduler.locations.list", req.GetName()) }
	p, err := x.s.projectFromName(ctx, req.GetName(), deny)
	if err != nil {
		return nil, err
	}
	if err := x.s.check(ctx, "cloudscheduler.locations.list", iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), 100, 1000)
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	regions := x.s.regions()
	start := 0
	if after != "" {
		start = slices.Index(regions, after) + 1
	}
	resp := &location.ListLocationsResponse{}
	for i := start; i < len(regions); i++ {
		if len(resp.Locations) == size {
			resp.NextPageToken = encodePageToken(regions[i-1])
			break
		}
		resp.Locations = append(resp.Locations, locationOf(p.GetProjectId(), regions[i]))
	}
	return resp, nil
}

func (x *Locations) GetLocation(ctx context.Context, req *location.GetLocationRequest) (*location.Location, error) {
	proj, loc, err := parseLocationName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	deny := func() error { return deniedPrincipal("cloudscheduler.locations.get", req.GetName()) }
	p, err := x.s.project(ctx, proj)
	if errors.Is(err, store.ErrNotFound) {
		return nil, deny()
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := x.s.check(ctx, "cloudscheduler.locations.get", iam.ProjectResource(p.GetProjectId()), deny); err != nil {
		return nil, err
	}
	if !slices.Contains(x.s.regions(), loc) {
		return nil, status.Errorf(codes.NotFound, "Location %s not found.", req.GetName())
	}
	return locationOf(p.GetProjectId(), loc), nil
}
