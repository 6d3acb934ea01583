package server_test

import (
	"sync"
	"testing"

	scheduler "cloud.google.com/go/scheduler/apiv1"
	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Permissions on jobs: cloudscheduler.jobs.* on the project, and actAs on
// the job's account whenever its token could reach someone new.
func TestSchedulerPermissions(t *testing.T) {
	e := start(t)
	iamSvc, _ := iamv1.NewService(e.ctx, e.rest("")...)
	var accounts []*iamv1.ServiceAccount
	for _, id := range []string{"deployer", "runner"} {
		sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: id}).Do()
		if err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, sa)
	}
	deployer, runner := accounts[0], accounts[1]
	addProjectBinding(t, e, "acme", "roles/cloudscheduler.admin", "serviceAccount:"+deployer.Email)
	grantTokenCreator(t, e, "acme", "user:dev@oidcron.local")
	creds, _ := iamcredentials.NewService(e.ctx, e.rest("")...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+deployer.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: e.s.Addrs.Issuer}).Do()
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	defer owner.Close()
	asDeployer, _ := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc(tok.Token)...)
	defer asDeployer.Close()

	j := httpJob("nightly", "https://example.com/run")
	j.GetHttpTarget().AuthorizationHeader = &schedulerpb.HttpTarget_OidcToken{OidcToken: &schedulerpb.OidcToken{ServiceAccountEmail: runner.Email}}
	// The deployer administers jobs but may not act as the runner.
	_, err = asDeployer.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
	grpcErr(t, err, codes.PermissionDenied, `The principal (user or service account) lacks IAM permission "iam.serviceAccounts.actAs" for the resource "`+runner.Email+`" (or the resource may not exist).`)
	job, err := owner.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
	if err != nil {
		t.Fatal(err)
	}
	// Changing the description sends the token nowhere new: no actAs needed.
	job.Description = "runs at night"
	if _, err := asDeployer.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: job, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}}); err != nil {
		t.Fatalf("description update: %v", err)
	}
	// Retargeting the URI would send the runner's token elsewhere: actAs.
	job.GetHttpTarget().Uri = "https://attacker.example/collect"
	_, err = asDeployer.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: job, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"http_target.uri"}}})
	grpcErr(t, err, codes.PermissionDenied, "")
	// Without an update mask, the fields the request sets replace the job's
	// and the others stay.
	got, err := owner.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: &schedulerpb.Job{Name: job.GetName(), Schedule: "0 3 * * *"}})
	if err != nil || got.GetSchedule() != "0 3 * * *" || got.GetDescription() != "runs at night" || got.GetHttpTarget().GetUri() != "https://example.com/run" {
		t.Fatalf("maskless update: %v %v", err, got)
	}
	// A caller with no role on the project is denied every method.
	outsider, err := iamSvc.Projects.ServiceAccounts.Create("projects/acme", &iamv1.CreateServiceAccountRequest{AccountId: "outsider"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	otok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+outsider.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: e.s.Addrs.Issuer}).Do()
	if err != nil {
		t.Fatal(err)
	}
	asOutsider, _ := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc(otok.Token)...)
	defer asOutsider.Close()
	_, err = asOutsider.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: job.GetName()})
	grpcErr(t, err, codes.PermissionDenied, `The principal (user or service account) lacks IAM permission "cloudscheduler.jobs.get" for the resource "`+job.GetName()+`" (or the resource may not exist).`)
	_, err = asOutsider.PauseJob(e.ctx, &schedulerpb.PauseJobRequest{Name: job.GetName()})
	grpcErr(t, err, codes.PermissionDenied, "")
	_, err = asOutsider.RunJob(e.ctx, &schedulerpb.RunJobRequest{Name: job.GetName()})
	grpcErr(t, err, codes.PermissionDenied, "")
}

// A pause racing an update is never undone: each write is rebuilt from a
// fresh read when the job changed under it.
func TestSchedulerConcurrentPauseAndUpdate(t *testing.T) {
	e := start(t)
	c, _ := scheduler.NewCloudSchedulerClient(e.ctx, e.grpc("")...)
	defer c.Close()
	for i := range 30 {
		j := httpJob("race", "https://example.com/x")
		j.Name = parent + "/jobs/race-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		job, err := c.CreateJob(e.ctx, &schedulerpb.CreateJobRequest{Parent: parent, Job: j})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var pauseErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, pauseErr = c.PauseJob(e.ctx, &schedulerpb.PauseJobRequest{Name: job.GetName()})
		}()
		go func() {
			defer wg.Done()
			job.Description = "changed"
			_, _ = c.UpdateJob(e.ctx, &schedulerpb.UpdateJobRequest{Job: job, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		}()
		wg.Wait()
		got, err := c.GetJob(e.ctx, &schedulerpb.GetJobRequest{Name: job.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if pauseErr == nil && got.GetState() != schedulerpb.Job_PAUSED {
			t.Fatalf("round %d: the pause succeeded but the job is %v", i, got.GetState())
		}
	}
}
