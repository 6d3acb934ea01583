// Package identity is oidcron's OIDC issuer: the RS256 signing keys and
// their rotation, minting Google-shaped ID tokens and access tokens for
// service accounts, verifying them for the invoker gateway, the IAM
// Credentials signing operations, and the HTTP documents verifiers fetch
// (discovery, JWKS, PEM certificates) plus a metadata-server emulation for
// workloads running beside oidcron.
//
// Two kinds of keys live in the store:
//
//   - issuer keys sign ID tokens and access tokens and are published in the
//     issuer's JWKS (/oauth2/v3/certs);
//   - per-account keys sign the payloads of IAM Credentials signJwt and
//     signBlob and are published per account
//     (/service_accounts/v1/metadata/{x509,jwk}/EMAIL), as Google does with a
//     service account's system-managed keys.
//
// They must never be mixed: signJwt signs a payload chosen by the caller, so
// if it used an issuer key anyone allowed to call signJwt on one account
// could write {"iss": ISSUER, "sub": <another account>, "aud": ...} and get
// an ID token for any account, accepted by every verifier of the JWKS.
package identity

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/oidcron/oidcron/internal/store"
)

// Account is the part of a service account that tokens are about.
type Account struct {
	Email     string
	UniqueID  string // numeric id; the sub and azp of its tokens
	ProjectID string
	Disabled  bool
}

// AccountSource resolves a token's subject (the account's unique id) to the
// account as it is now; store.ErrNotFound if deleted or unknown.
type AccountSource interface {
	AccountByUniqueID(ctx context.Context, uniqueID string) (Account, error)
}

// AccountLookup resolves an email or unique id to a live account;
// store.ErrNotFound if there is none. The metadata handler and the
// service-account key documents use it, since both are addressed by email.
type AccountLookup func(ctx context.Context, emailOrUniqueID string) (Account, error)

// Errors returned by the Minter (possibly wrapped, with the detail in the
// message) so that the API layer can map them to Google's status codes.
var (
	// ErrInvalidArgument: a request the caller must change (empty audience,
	// lifetime over the maximum, a signJwt payload that is not a JSON
	// object, ...). Maps to INVALID_ARGUMENT.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrAccountDisabled: tokens and signatures are refused for a disabled
	// account. Maps to FAILED_PRECONDITION.
	ErrAccountDisabled = errors.New("service account is disabled")
	// ErrNoSigningKey: the key set holds no key that may sign now (the store
	// was emptied behind the process's back). Maps to UNAVAILABLE/INTERNAL.
	ErrNoSigningKey = errors.New("no active signing key")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("identity: %w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}

// AccountFromServiceAccount converts the IAM admin message to an Account.
func AccountFromServiceAccount(sa *adminpb.ServiceAccount) Account {
	return Account{
		Email:     sa.GetEmail(),
		UniqueID:  sa.GetUniqueId(),
		ProjectID: sa.GetProjectId(),
		Disabled:  sa.GetDisabled(),
	}
}

// ServiceAccountGetter is the one store method StoreAccounts needs;
// store.Store and store.Tx satisfy it.
type ServiceAccountGetter interface {
	GetServiceAccount(ctx context.Context, emailOrUniqueID string) (*adminpb.ServiceAccount, error)
}

// StoreAccounts adapts the store's live service accounts to AccountSource
// and AccountLookup. A deleted account is store.ErrNotFound, so its tokens
// stop verifying at once.
type StoreAccounts struct{ Store ServiceAccountGetter }

// AccountByUniqueID implements AccountSource.
func (s StoreAccounts) AccountByUniqueID(ctx context.Context, uniqueID string) (Account, error) {
	sa, err := s.Store.GetServiceAccount(ctx, uniqueID)
	if err != nil {
		return Account{}, err
	}
	// GetServiceAccount also matches emails; a token's sub must name the
	// account by its unique id and nothing else.
	if sa.GetUniqueId() != uniqueID {
		return Account{}, fmt.Errorf("identity: %q is not a unique id: %w", uniqueID, store.ErrNotFound)
	}
	return AccountFromServiceAccount(sa), nil
}

// Lookup implements AccountLookup.
func (s StoreAccounts) Lookup(ctx context.Context, emailOrUniqueID string) (Account, error) {
	sa, err := s.Store.GetServiceAccount(ctx, emailOrUniqueID)
	if err != nil {
		return Account{}, err
	}
	return AccountFromServiceAccount(sa), nil
}
