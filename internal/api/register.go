package api

import (
	"fmt"

	functionsv1 "cloud.google.com/go/functions/apiv1/functionspb"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"

	"github.com/oidcron/oidcron/internal/api/rest"
)

// Register serves every service over gRPC on g and over REST through t.
func (s *Server) Register(g *grpc.Server, t *rest.Transcoder) error {
	services := []struct {
		desc *grpc.ServiceDesc
		impl any
	}{
		{&resourcemanagerpb.Projects_ServiceDesc, &Projects{s: s}},
		{&credentialspb.IAMCredentials_ServiceDesc, &Credentials{s: s}},
		{&functionspb.FunctionService_ServiceDesc, &FunctionsV2{s: s}},
		{&functionsv1.CloudFunctionsService_ServiceDesc, &FunctionsV1{s: s}},
		{&longrunningpb.Operations_ServiceDesc, &Operations{s: s}},
		{&runpb.Services_ServiceDesc, &RunServices{s: s}},
		{&schedulerpb.CloudScheduler_ServiceDesc, &Scheduler{s: s}},
	}
	for _, svc := range services {
		g.RegisterService(svc.desc, svc.impl)
		if err := t.RegisterService(svc.desc, svc.impl); err != nil {
			return fmt.Errorf("rest %s: %w", svc.desc.ServiceName, err)
		}
	}
	// The IAMPolicy mixin is Cloud Functions v2's over gRPC; over REST it
	// serves only the function paths below (aliases), not its compiled
	// "/v1/{resource=**}" rules, which would catch any resource's IAM path
	// (a job's, which Google does not serve) with a function-name error.
	fnIAM := &FunctionsIAM{s: s}
	g.RegisterService(&iampb.IAMPolicy_ServiceDesc, fnIAM)
	if err := t.RegisterServiceUnrouted(&iampb.IAMPolicy_ServiceDesc, fnIAM); err != nil {
		return fmt.Errorf("rest %s: %w", iampb.IAMPolicy_ServiceDesc.ServiceName, err)
	}
	// Locations keeps its ServiceDesc unexported too.
	locs := &Locations{s: s}
	locDesc, err := rest.ServiceDescByName("google.cloud.location.Locations", locs)
	if err != nil {
		return err
	}
	location.RegisterLocationsServer(g, locs)
	if err := t.RegisterService(locDesc, locs); err != nil {
		return fmt.Errorf("rest %s: %w", locDesc.ServiceName, err)
	}
	// IAM admin keeps its ServiceDesc unexported; build it from the
	// descriptor. It comes after IAM Credentials so that the :signBlob and
	// :signJwt paths both declare go to IAM Credentials, the live API.
	iamAdmin := &IAMAdmin{s: s}
	iamDesc, err := rest.ServiceDescByName("google.iam.admin.v1.IAM", iamAdmin)
	if err != nil {
		return err
	}
	adminpb.RegisterIAMServer(g, iamAdmin)
	if err := t.RegisterService(iamDesc, iamAdmin); err != nil {
		return fmt.Errorf("rest %s: %w", iamDesc.ServiceName, err)
	}
	// Paths that clients call but no compiled proto rule describes: Resource
	// Manager v1 (gcloud's project IAM), the IAMPolicy and Operations mixins
	// of Cloud Functions v2, and the v1/v3 operation paths.
	aliases := []struct {
		method string
		rule   *annotations.HttpRule
	}{
		{"/google.cloud.resourcemanager.v3.Projects/GetIamPolicy", post("/v1/{resource=projects/*}:getIamPolicy")},
		{"/google.cloud.resourcemanager.v3.Projects/SetIamPolicy", post("/v1/{resource=projects/*}:setIamPolicy")},
		{"/google.cloud.resourcemanager.v3.Projects/TestIamPermissions", post("/v1/{resource=projects/*}:testIamPermissions")},
		{"/google.iam.v1.IAMPolicy/GetIamPolicy", get("/v2/{resource=projects/*/locations/*/functions/*}:getIamPolicy")},
		{"/google.iam.v1.IAMPolicy/SetIamPolicy", post("/v2/{resource=projects/*/locations/*/functions/*}:setIamPolicy")},
		{"/google.iam.v1.IAMPolicy/TestIamPermissions", post("/v2/{resource=projects/*/locations/*/functions/*}:testIamPermissions")},
		{"/google.longrunning.Operations/GetOperation", get("/v2/{name=projects/*/locations/*/operations/*}")},
		{"/google.longrunning.Operations/GetOperation", get("/v1/{name=projects/*/locations/*/operations/*}")},
		{"/google.longrunning.Operations/GetOperation", get("/v1/{name=operations/**}")},
		{"/google.longrunning.Operations/GetOperation", get("/v3/{name=operations/**}")},
		// Cloud Run admin v1 IAM paths: gcloud's functions add-invoker-policy-binding
		// and deploy --allow-unauthenticated of a 2nd gen function call these.
		{"/google.cloud.run.v2.Services/GetIamPolicy", get("/v1/{resource=projects/*/locations/*/services/*}:getIamPolicy")},
		{"/google.cloud.run.v2.Services/SetIamPolicy", post("/v1/{resource=projects/*/locations/*/services/*}:setIamPolicy")},
		{"/google.cloud.run.v2.Services/TestIamPermissions", post("/v1/{resource=projects/*/locations/*/services/*}:testIamPermissions")},
		{"/google.cloud.location.Locations/ListLocations", get("/v1/{name=projects/*}/locations")},
		{"/google.cloud.location.Locations/GetLocation", get("/v1/{name=projects/*/locations/*}")},
	}
	for _, a := range aliases {
		if err := t.AddRule(a.method, a.rule); err != nil {
			return fmt.Errorf("rest alias %s: %w", a.method, err)
		}
	}
	return nil
}

func post(path string) *annotations.HttpRule {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: path}, Body: "*"}
}

func get(path string) *annotations.HttpRule {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path}}
}
