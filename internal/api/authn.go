package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
)

// DevUser is who an unauthenticated request acts as in dev mode.
const DevUser = "user:dev@oidcron.local"

// AdminUser is who a request bearing the installation's admin token acts as.
const AdminUser = "user:admin@oidcron.local"

// Google's texts for requests without, or with bad, credentials.
const (
	msgMissingCredentials = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	msgInsufficientScopes = "Request had insufficient authentication scopes."
	msgInvalidCredentials = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

type subjectKey struct{}

// SubjectFrom returns who the request acts as.
func SubjectFrom(ctx context.Context) iam.Subject {
	s, ok := ctx.Value(subjectKey{}).(iam.Subject)
	if !ok {
		return iam.Subject{Anonymous: true}
	}
	return s
}

// WithSubject returns ctx acting as sub (for in-process callers: the
// scheduler acting as the service agent, the doctor, tests).
func WithSubject(ctx context.Context, sub iam.Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, sub)
}

// Interceptor authenticates every call, gRPC and REST alike (the REST
// transcoder runs it too), and logs failures.
func (s *Server) Interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	sub, err := s.authenticate(ctx)
	if err != nil {
		s.log.Info("request refused", "method", info.FullMethod, "reason", err)
		return nil, err
	}
	resp, err := handler(WithSubject(ctx, sub), req)
	if err != nil {
		s.log.Info("request failed", "method", info.FullMethod, "subject", sub.Member, "code", status.Code(err).String(), "error", status.Convert(err).Message())
	} else {
		s.log.Debug("request", "method", info.FullMethod, "subject", sub.Member)
	}
	return resp, err
}

func (s *Server) authenticate(ctx context.Context) (iam.Subject, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var authz string
	if v := md.Get("authorization"); len(v) > 0 {
		authz = v[0]
	}
	if authz == "" {
		if s.cfg.RequireAuth {
			return iam.Subject{}, status.Error(codes.Unauthenticated, msgMissingCredentials)
		}
		return iam.Subject{Member: DevUser}, nil
	}
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return iam.Subject{}, status.Error(codes.Unauthenticated, msgInvalidCredentials)
	}
	if s.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) == 1 {
		return iam.Subject{Member: AdminUser}, nil
	}
	var email string
	if strings.HasPrefix(token, "ya29.") {
		c, err := s.cfg.Verifier.VerifyAccessToken(ctx, token)
		if err != nil {
			return iam.Subject{}, s.refused("access token", err)
		}
		// Every API served here is a cloud-platform API: a token minted
		// narrower (userinfo.email, say) is refused, as Google refuses it.
		if !slices.Contains(c.Scopes, identity.CloudPlatformScope) {
			return iam.Subject{}, status.Error(codes.PermissionDenied, msgInsufficientScopes)
		}
		email = c.Account.Email
	} else {
		// Only tokens minted for the API itself: the gateway forwards every
		// caller's token to the function, which must not be able to replay it
		// here.
		c, err := s.cfg.Verifier.VerifyIDToken(ctx, token, []string{s.cfg.Issuer})
		if err != nil {
			return iam.Subject{}, s.refused("identity token", err)
		}
		email = c.Account.Email // resolved from sub even when the token carries no email
	}
	return iam.Subject{Member: "serviceAccount:" + email}, nil
}

// refused is the answer to a token the verifier did not accept: 401 for a
// token it judged bad (a VerifyError); any other error means it could not
// judge (its store failed), which is not the caller's fault and must not
// read as bad credentials.
func (s *Server) refused(what string, err error) error {
	if _, bad := errors.AsType[*identity.VerifyError](err); !bad {
		return internal(err)
	}
	s.log.Info(what+" refused", "reason", err)
	return status.Error(codes.Unauthenticated, msgInvalidCredentials)
}
