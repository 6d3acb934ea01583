package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iamcredentials/v1"
)

// The `auth` group: identity tokens of a service account, minted through
// the IAM Credentials API as gcloud's impersonation does.

func init() { register(authCmd) }

func authCmd(g *Globals) *cobra.Command {
	root := &cobra.Command{Use: "auth", Short: "Print identity tokens of service accounts"}
	root.AddCommand(authPrintIdentityTokenCmd(g))
	return root
}

// authGcloudClientID is the audience gcloud gives an impersonated
// account's token when --audiences is not set (its OAuth client id).
const authGcloudClientID = "32555940559.apps.googleusercontent.com"

func authPrintIdentityTokenCmd(g *Globals) *cobra.Command {
	var impersonate, audience string
	var includeEmail bool
	cmd := &cobra.Command{
		Use:   "print-identity-token --impersonate-service-account=EMAIL [--audiences=AUDIENCE] [--include-email]",
		Short: "Print an identity token for a service account",
		Long: "Mints an OIDC identity token for the service account of --impersonate-service-account with " +
			"the IAM Credentials API (generateIdToken) and prints it. The caller needs " +
			"iam.serviceAccounts.getOpenIdToken on the account (roles/iam.serviceAccountTokenCreator). " +
			"A comma-separated list names a delegation chain, the last account being the target.\n\n" +
			"oidcron keeps no credentials of its own, so --impersonate-service-account is required; the " +
			"caller is the one of OIDCRON_ACCESS_TOKEN (or the dev user).",
		Args: positionalArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if impersonate == "" {
				return usagef("argument --impersonate-service-account: Must be specified: oidcron keeps no " +
					"credentials of its own, so it mints identity tokens for a service account.")
			}
			chain := strings.Split(impersonate, ",")
			for i, a := range chain {
				chain[i] = strings.TrimSpace(a)
				if !strings.Contains(chain[i], "@") {
					return invalidArg("--impersonate-service-account", "%q is not a service account email.", chain[i])
				}
			}
			target := chain[len(chain)-1]
			var delegates []string
			for _, d := range chain[:len(chain)-1] {
				delegates = append(delegates, saName(d))
			}
			if f := cmd.Flag("audiences"); f != nil && f.Changed && audience == "" {
				return invalidArg("--audiences", "must not be empty.")
			}
			aud := audience
			if aud == "" {
				aud = authGcloudClientID
			}
			fmt.Fprintf(g.Err, "WARNING: This command is using service account impersonation. All API calls will be executed as [%s].\n", impersonate)
			svc, err := iamcredentials.NewService(ctx(cmd), g.ClientOptions()...)
			if err != nil {
				return err
			}
			resp, err := svc.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
				Audience: aud, IncludeEmail: includeEmail, Delegates: delegates,
			}).Context(ctx(cmd)).Do()
			if err != nil {
				var ge *googleapi.Error
				if errors.As(err, &ge) && (ge.Code == 403 || ge.Code == 404) {
					// gcloud's impersonation failure, followed by the API's reason.
					return fmt.Errorf("Failed to impersonate [%s]. Make sure the account that's trying to impersonate it "+
						"has access to the service account itself and the \"roles/iam.serviceAccountTokenCreator\" role. %s",
						target, ge.Message)
				}
				return APIError(err)
			}
			return g.Print(map[string]any{"id_token": resp.Token}, false, "value(id_token)")
		},
	}
	cmd.Flags().StringVar(&impersonate, "impersonate-service-account", "", "The service account (email) to mint the token for; a comma-separated list is a delegation chain.")
	cmd.Flags().StringVar(&audience, "audiences", "", "Intended recipient of the token (its aud claim), e.g. the URL of a function.")
	gcloudStoreTrue(cmd.Flags(), &includeEmail, "include-email", "", false, "Include the service account's email and email_verified claims in the token.")
	return cmd
}
