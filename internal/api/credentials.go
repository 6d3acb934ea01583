package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/store"
)

// Credentials implements google.iam.credentials.v1.IAMCredentials:
// short-lived ID tokens, access tokens and signatures for service accounts.
type Credentials struct {
	credentialspb.UnimplementedIAMCredentialsServer
	s *Server
}

// impersonate resolves the target of a short-lived-credential call through
// its delegation chain, checking at each link the permission Google checks:
// implicitDelegation to reach each delegate, then permission on the target.
// It returns the target account, refusing a disabled one.
func (s *Server) impersonate(ctx context.Context, name string, delegates []string, permission string) (identity.Account, error) {
	sub := SubjectFrom(ctx)
	hops := append(append([]string(nil), delegates...), name)
	var target *adminpb.ServiceAccount
	for i, hop := range hops {
		proj, acct, err := parseSAName(hop)
		if err != nil {
			return identity.Account{}, err
		}
		if proj != "-" {
			field := "name"
			if i < len(delegates) {
				field = "delegates"
			}
			return identity.Account{}, invalid("%s: %q must use the wildcard project: projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}; a project ID there is invalid.", field, hop)
		}
		perm := permission
		if i < len(delegates) {
			perm = "iam.serviceAccounts.implicitDelegation"
		}
		sa, err := s.dir.ServiceAccount(ctx, acct)
		if errors.Is(err, store.ErrNotFound) {
			return identity.Account{}, deniedIAM(perm)
		}
		if err != nil {
			return identity.Account{}, internal(err)
		}
		d, err := iam.Authorize(ctx, s.dir, sub, perm, iam.ServiceAccountResource(sa.GetProjectId(), sa.GetEmail()))
		if err != nil {
			return identity.Account{}, internal(err)
		}
		if !d.Granted {
			s.log.Info("permission denied", "subject", sub.Member, "permission", perm, "resource", hop, "reason", d.Reason)
			return identity.Account{}, deniedIAM(perm)
		}
		if sa.GetDisabled() {
			if i < len(delegates) {
				return identity.Account{}, deniedIAM(perm)
			}
			return identity.Account{}, status.Errorf(codes.FailedPrecondition, "Service account %s is disabled.", sa.GetEmail())
		}
		// The next link is checked as this account.
		sub = iam.Subject{Member: "serviceAccount:" + sa.GetEmail()}
		target = sa
	}
	return directory.AccountOf(target), nil
}

func (x *Credentials) GenerateIdToken(ctx context.Context, req *credentialspb.GenerateIdTokenRequest) (*credentialspb.GenerateIdTokenResponse, error) {
	if strings.TrimSpace(req.GetAudience()) == "" {
		return nil, invalid("audience: the field is required.")
	}
	a, err := x.s.impersonate(ctx, req.GetName(), req.GetDelegates(), "iam.serviceAccounts.getOpenIdToken")
	if err != nil {
		return nil, err
	}
	tok, _, err := x.s.cfg.Minter.NewIDToken(ctx, a, req.GetAudience(), req.GetIncludeEmail())
	if err != nil {
		return nil, mintErr(err)
	}
	x.s.log.Info("id token issued", "account", a.Email, "audience", req.GetAudience(), "by", SubjectFrom(ctx).Member)
	return &credentialspb.GenerateIdTokenResponse{Token: tok}, nil
}

func (x *Credentials) GenerateAccessToken(ctx context.Context, req *credentialspb.GenerateAccessTokenRequest) (*credentialspb.GenerateAccessTokenResponse, error) {
	if len(req.GetScope()) == 0 {
		return nil, invalid("scope: at least one OAuth scope is required.")
	}
	life := identity.MaxAccessTokenLifetime
	if l := req.GetLifetime(); l != nil {
		if err := l.CheckValid(); err != nil {
			return nil, invalid("lifetime: %v.", err)
		}
		if d := l.AsDuration(); d < 0 || d > identity.MaxAccessTokenLifetime {
			return nil, invalid("lifetime: %s is out of range: it must be at most 3600s (0s: the default, 3600s).", d)
		} else if d > 0 {
			life = d
		}
	}
	a, err := x.s.impersonate(ctx, req.GetName(), req.GetDelegates(), "iam.serviceAccounts.getAccessToken")
	if err != nil {
		return nil, err
	}
	tok, exp, err := x.s.cfg.Minter.AccessToken(ctx, a, req.GetScope(), life)
	if err != nil {
		return nil, mintErr(err)
	}
	x.s.log.Info("access token issued", "account", a.Email, "by", SubjectFrom(ctx).Member)
	return &credentialspb.GenerateAccessTokenResponse{AccessToken: tok, ExpireTime: timestamppb.New(exp)}, nil
}

func (x *Credentials) SignJwt(ctx context.Context, req *credentialspb.SignJwtRequest) (*credentialspb.SignJwtResponse, error) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(req.GetPayload()), &claims); err != nil {
		return nil, invalid("payload: must be a JSON object of JWT claims: %v", err)
	}
	a, err := x.s.impersonate(ctx, req.GetName(), req.GetDelegates(), "iam.serviceAccounts.signJwt")
	if err != nil {
		return nil, err
	}
	kid, jwt, err := x.s.cfg.Minter.SignJWT(ctx, a, req.GetPayload())
	if err != nil {
		return nil, mintErr(err)
	}
	return &credentialspb.SignJwtResponse{KeyId: kid, SignedJwt: jwt}, nil
}

func (x *Credentials) SignBlob(ctx context.Context, req *credentialspb.SignBlobRequest) (*credentialspb.SignBlobResponse, error) {
	a, err := x.s.impersonate(ctx, req.GetName(), req.GetDelegates(), "iam.serviceAccounts.signBlob")
	if err != nil {
		return nil, err
	}
	kid, sig, err := x.s.cfg.Minter.SignBlob(ctx, a, req.GetPayload())
	if err != nil {
		return nil, mintErr(err)
	}
	return &credentialspb.SignBlobResponse{KeyId: kid, SignedBlob: sig}, nil
}

// mintErr maps the Minter's errors to Google's codes.
func mintErr(err error) error {
	switch {
	case errors.Is(err, identity.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, identity.ErrAccountDisabled):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return internal(err)
}
