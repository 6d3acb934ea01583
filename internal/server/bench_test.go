package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/oidcron/oidcron/internal/server"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
)

// BenchmarkGatewayServeHTTP is the gateway's own cost per allowed request,
// without the network: routing (Resolve), and the public check, token
// verification (cached signature) and IAM check (Decide). The proxying is
// measured end to end by cmd/oidcron-bench.
func BenchmarkGatewayServeHTTP(b *testing.B) {
	ctx := context.Background()
	s, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: b.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(ctx)
	opts := []option.ClientOption{option.WithEndpoint("http://" + s.Addrs.API + "/"), option.WithoutAuthentication()}
	cf, _ := cfv2.NewService(ctx, opts...)
	if _, err := cf.Projects.Locations.Functions.Create("projects/bench/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": "http://127.0.0.1:9"}},
	}).FunctionId("sink").Do(); err != nil {
		b.Fatal(err)
	}
	iamSvc, _ := iamv1.NewService(ctx, opts...)
	sa, _ := iamSvc.Projects.ServiceAccounts.Create("projects/bench", &iamv1.CreateServiceAccountRequest{AccountId: "invoker"}).Do()
	rm, _ := crm.NewService(ctx, opts...)
	pol, _ := rm.Projects.GetIamPolicy("bench", &crm.GetIamPolicyRequest{}).Do()
	pol.Bindings = append(pol.Bindings,
		&crm.Binding{Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:" + sa.Email}},
		&crm.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:dev@oidcron.local"}})
	if _, err := rm.Projects.SetIamPolicy("bench", &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		b.Fatal(err)
	}
	creds, _ := iamcredentials.NewService(ctx, opts...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: "https://us-central1-bench.cloudfunctions.net/sink"}).Do()
	if err != nil {
		b.Fatal(err)
	}
	fn, err := s.Dir.Function(ctx, "projects/bench/locations/us-central1/functions/sink")
	if err != nil {
		b.Fatal(err)
	}
	authz := "Bearer " + tok.Token
	b.Run("Decide", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := s.Gateway.Decide(ctx, fn, authz); v.Status != 0 {
				b.Fatal(v.Reason)
			}
		}
	})
	b.Run("Resolve", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := s.Gateway.Resolve(ctx, "us-central1-bench.cloudfunctions.net", "/sink"); !ok {
				b.Fatal("no route")
			}
		}
	})
}
