package server_test

import (
	"testing"
	"time"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/oidcron/oidcron/internal/clock"
)

func oidcTok(email, aud string) *schedulerpb.HttpTarget_OidcToken {
	return &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: email, Audience: aud}}
}

func oauthTok(email, scope string) *schedulerpb.HttpTarget_OauthToken {
	return &schedulerpb.HttpTarget_OauthToken{OauthToken: &schedulerpb.OAuthToken{ServiceAccountEmail: email, Scope: scope}}
}

// schedulerCaller is a service account of project acme that holds
// roles/cloudscheduler.admin there and nothing else: it may manage jobs but
// act as no account.
func schedulerCaller(t *testing.T, e *env, id string) (*scheduler.CloudSchedulerClient, string) {
	t.Helper()
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: id}).Do()
	if err != nil {
		t.Fatal(err)
	}
	addProjectBinding(t, e, "acme", "roles/cloudscheduler.admin", "serviceAccount:"+sa.Email)
	grantTokenCreator(t, e, "acme", "user:dev@oidcron.local")
	creds, _ := iamcredentials.NewService(e.ctx, e.rest("")...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: e.s.Addrs.Issuer}).Do()
	if err != nil {
		t.Fatal(err)
	}
	c, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc(tok.Token)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, sa.Email
}

func createAccount(t *testing.T, e *env, project, id string) string {
	t.Helper()
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/"+project, &iamv1.CreateServiceAccountRequest{AccountId: id}).Do()
	if err != nil {
		t.Fatal(err)
	}
	return sa.Email
}

// The job's token is a oneof: an update mask naming the other token
// replaces the job's token with one built from the request, a mask naming
// both keeps the request's, and what would silently drop or flip the token
// is refused. The result always holds at most one token, validated (actAs
// included) for its account.
func TestUpdateJobTokenOneof(t *testing.T) {
	e := start(t, withFakeClock(clock.NewFake(time.Now()))) // time stands still: no schedule fires
	owner, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	first := createAccount(t, e, "acme", "first-invoker")
	second := createAccount(t, e, "acme", "second-invoker")
	const aud = "https://example.com/aud"
	j := httpJob("tok", "https://example.com/run")
	j.GetHttpTarget().AuthorizationHeader = oidcTok(first, aud)
	job, err := owner.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
	if err != nil {
		t.Fatal(err)
	}
	update := func(c *scheduler.CloudSchedulerClient, t2 *schedulerpb.HttpTarget, paths ...string) (*schedulerpb.Job, error) {
		in := proto.Clone(job).(*schedulerpb.Job)
		in.Target = &schedulerpb.Job_HttpTarget{HttpTarget: t2}
		return c.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	stored := func() *schedulerpb.HttpTarget {
		t.Helper()
		got, err := owner.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: job.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetHttpTarget()
	}
	target := func(auth any) *schedulerpb.HttpTarget {
		ht := &schedulerpb.HttpTarget{Uri: "https://example.com/run"}
		switch a := auth.(type) {
		case *schedulerpb.HttpTarget_OidcToken:
			ht.AuthorizationHeader = a
		case *schedulerpb.HttpTarget_OauthToken:
			ht.AuthorizationHeader = a
		}
		return ht
	}

	// A client sending the whole job back with a mask into the token it does
	// not have would silently lose the job's token: refused.
	_, err = update(owner, target(oidcTok(first, aud)), "http_target.oauth_token.service_account_email")
	grpcErr(t, err, codes.InvalidArgument, "update_mask: it names http_target.oauth_token, but the job in the request has an http_target.oidc_token; a job has one token: name the fields of the token it is to have.")
	_, err = update(owner, target(nil), "http_target.oauth_token.scope")
	grpcErr(t, err, codes.InvalidArgument, "")
	if o := stored().GetOidcToken(); o.GetServiceAccountEmail() != first || o.GetAudience() != aud {
		t.Fatalf("after refused updates: %v", stored())
	}

	// Both tokens named: the request's wins whatever the paths' order, and
	// the job's token merges with it (the audience stays).
	for _, paths := range [][]string{
		{"http_target.oidc_token.service_account_email", "http_target.oauth_token.scope"},
		{"http_target.oauth_token.scope", "http_target.oidc_token.service_account_email"},
	} {
		got, err := update(owner, target(oidcTok(second, "")), paths...)
		if err != nil {
			t.Fatal(err)
		}
		if o := got.GetHttpTarget().GetOidcToken(); o.GetServiceAccountEmail() != second || o.GetAudience() != aud || got.GetHttpTarget().GetOauthToken() != nil {
			t.Fatalf("mask %v: %v", paths, got.GetHttpTarget())
		}
	}

	// The other token named: it replaces the job's, built from the request
	// alone, and actAs is asked for its account.
	admin, _ := schedulerCaller(t, e, "scheduler-admin")
	_, err = update(admin, target(oauthTok(first, "")), "http_target.oauth_token.service_account_email")
	grpcErr(t, err, codes.PermissionDenied, `The principal (user or service account) lacks IAM permission "iam.serviceAccounts.actAs" for the resource "`+first+`" (or the resource may not exist).`)
	got, err := update(owner, target(oauthTok(first, "")), "http_target.oauth_token.service_account_email")
	if err != nil {
		t.Fatal(err)
	}
	if ht := got.GetHttpTarget(); ht.GetOidcToken() != nil || ht.GetOauthToken().GetServiceAccountEmail() != first || ht.GetOauthToken().GetScope() != "" {
		t.Fatalf("oidc -> oauth: %v", ht)
	}
	// ... and validated: a replacement without an account is refused.
	_, err = update(owner, target(oidcTok("", aud)), "http_target.oidc_token.audience")
	grpcErr(t, err, codes.InvalidArgument, `http_target.oidc_token.service_account_email: "" must be a service account's email.`)
	// A mask into the other token while the request holds the job's own:
	// refused, not a silent removal.
	_, err = update(owner, target(oauthTok(first, "")), "http_target.oidc_token.audience")
	grpcErr(t, err, codes.InvalidArgument, "")
	got, err = update(owner, target(oidcTok(second, "")), "http_target.oidc_token.service_account_email")
	if err != nil {
		t.Fatal(err)
	}
	if ht := got.GetHttpTarget(); ht.GetOauthToken() != nil || ht.GetOidcToken().GetServiceAccountEmail() != second || ht.GetOidcToken().GetAudience() != "" {
		t.Fatalf("oauth -> oidc: %v", ht)
	}

	// gcloud's --clear-auth-token names all four fields and sends none.
	got, err = update(admin, target(nil), "http_target.oauth_token.scope", "http_target.oauth_token.service_account_email",
		"http_target.oidc_token.audience", "http_target.oidc_token.service_account_email")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetHttpTarget().GetAuthorizationHeader() != nil {
		t.Fatalf("cleared: %v", got.GetHttpTarget())
	}

	// Over REST, as gcloud's `update http --oauth-service-account-email`
	// sends it after `--oidc-service-account-email`: camelCase mask, the
	// OIDC token replaced by the OAuth one.
	if _, err := update(owner, target(oidcTok(first, aud)), "http_target.oidc_token"); err != nil {
		t.Fatal(err)
	}
	svc, err := cloudscheduler.NewService(e.ctx, e.rest("")...)
	if err != nil {
		t.Fatal(err)
	}
	rj, err := svc.Projects.Locations.Jobs.Patch(job.GetName(), &cloudscheduler.Job{
		HttpTarget: &cloudscheduler.HttpTarget{OauthToken: &cloudscheduler.OAuthToken{ServiceAccountEmail: second}},
	}).UpdateMask("httpTarget.oauthToken.serviceAccountEmail").Do()
	if err != nil {
		t.Fatal(err)
	}
	if rj.HttpTarget.OidcToken != nil || rj.HttpTarget.OauthToken == nil || rj.HttpTarget.OauthToken.ServiceAccountEmail != second || rj.HttpTarget.Uri != "https://example.com/run" {
		t.Fatalf("REST oidc -> oauth: %+v %+v", rj.HttpTarget, rj.HttpTarget.OauthToken)
	}
}

// A caller without iam.serviceAccounts.actAs is denied before anything is
// said about the account, whether it exists, is in another project, or not:
// PERMISSION_DENIED first, as Google checks (reference §1.8, §5.5). A caller
// with actAs on the job's project gets the validation error, worded from the
// email alone, so it does not tell an existing account of another project
// from a missing one either.
func TestJobAccountPermissionBeforeExistence(t *testing.T) {
	e := start(t, withFakeClock(clock.NewFake(time.Now()))) // time stands still: no schedule fires
	owner, err := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	admin, _ := schedulerCaller(t, e, "scheduler-admin")
	elsewhere := createAccount(t, e, "other-proj", "runner")
	cases := []struct {
		email, ownerMsg string
	}{
		{"missing@acme.iam.gserviceaccount.com",
			"http_target.oidc_token.service_account_email: service account missing@acme.iam.gserviceaccount.com does not exist in project acme."},
		{elsewhere,
			"http_target.oidc_token.service_account_email: " + elsewhere + " must be a service account in the job's project acme."},
		{"missing@other-proj.iam.gserviceaccount.com",
			"http_target.oidc_token.service_account_email: missing@other-proj.iam.gserviceaccount.com must be a service account in the job's project acme."},
	}
	for i, c := range cases {
		j := httpJob("j"+string(rune('a'+i)), "https://example.com/run")
		j.GetHttpTarget().AuthorizationHeader = oidcTok(c.email, "")
		_, err := admin.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
		grpcErr(t, err, codes.PermissionDenied, `The principal (user or service account) lacks IAM permission "iam.serviceAccounts.actAs" for the resource "`+c.email+`" (or the resource may not exist).`)
		_, err = owner.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
		grpcErr(t, err, codes.InvalidArgument, c.ownerMsg)
	}
	// The same order on update.
	j := httpJob("plain", "https://example.com/run")
	job, err := owner.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
	if err != nil {
		t.Fatal(err)
	}
	job.GetHttpTarget().AuthorizationHeader = oidcTok("missing@acme.iam.gserviceaccount.com", "")
	_, err = admin.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: job, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.oidc_token"}}})
	grpcErr(t, err, codes.PermissionDenied, "")
}
