package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/store"
)

// AgentCredentials mints a job's token as Google does: the project's Cloud
// Scheduler service agent asks for a token of the job's service account,
// which it may do only while it holds a role with getOpenIdToken (or
// getAccessToken) on that account. If the agent has lost its role, the
// attempt fails, as on Google Cloud.
type AgentCredentials struct {
	Dir    *directory.Directory
	Minter *identity.Minter
}

// Authorization implements Credentials.
func (a AgentCredentials) Authorization(ctx context.Context, job *schedulerpb.Job) (string, error) {
	t := job.GetHttpTarget()
	var email, perm string
	switch {
	case t.GetOidcToken() != nil:
		email, perm = t.GetOidcToken().GetServiceAccountEmail(), "iam.serviceAccounts.getOpenIdToken"
	case t.GetOauthToken() != nil:
		email, perm = t.GetOauthToken().GetServiceAccountEmail(), "iam.serviceAccounts.getAccessToken"
	default:
		return "", nil // a job without a token sends none
	}
	project, _, _ := strings.Cut(strings.TrimPrefix(job.GetName(), "projects/"), "/")
	p, err := a.Dir.Project(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		return "", &Refusal{fmt.Sprintf("the job's project %s does not exist", project)}
	}
	if err != nil {
		return "", fmt.Errorf("project %s: %w", project, err)
	}
	num, _ := strconv.ParseInt(strings.TrimPrefix(p.GetName(), "projects/"), 10, 64)
	agent := "serviceAccount:" + iam.SchedulerServiceAgent(num)
	acct, err := a.Dir.Account(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return "", &Refusal{fmt.Sprintf("the job's service account %s does not exist", email)}
	}
	if err != nil {
		return "", err
	}
	d, err := a.Dir.Authorize(ctx, iam.Subject{Member: agent}, perm, iam.ServiceAccountResource(acct.ProjectID, acct.Email))
	if err != nil {
		return "", err
	}
	if !d.Granted {
		return "", &Refusal{fmt.Sprintf("the Cloud Scheduler service agent cannot mint a token for %s: %s", email, d.Reason)}
	}
	if acct.Disabled {
		return "", &Refusal{fmt.Sprintf("the job's service account %s is disabled", email)}
	}
	if o := t.GetOidcToken(); o != nil {
		aud := o.GetAudience()
		if aud == "" {
			aud = t.GetUri() // Google: "the URI specified in target will be used"
		}
		tok, _, err := a.Minter.IDToken(ctx, acct, aud, true)
		if err != nil {
			return "", mintErr(err)
		}
		return "Bearer " + tok, nil
	}
	scope := t.GetOauthToken().GetScope()
	if scope == "" {
		scope = identity.CloudPlatformScope // when the job names none
	}
	tok, _, err := a.Minter.AccessToken(ctx, acct, strings.Fields(scope), 0)
	if err != nil {
		return "", mintErr(err)
	}
	return "Bearer " + tok, nil
}

// mintErr makes the minter's refusal of a disabled account a Refusal (the
// account was disabled between the check above and the mint).
func mintErr(err error) error {
	if errors.Is(err, identity.ErrAccountDisabled) {
		return &Refusal{err.Error()}
	}
	return err
}
