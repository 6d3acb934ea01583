package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/demo"
)

// demoCmd is `oidcron demo`: the 403 story, start to finish, against a
// server it starts in this process (internal/demo).
func demoCmd(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Live the scheduled-call 403 story by itself: 403, the doctor, the fix, 200",
		Long: `Run the classic support story by itself, against a throw-away oidcron started in
this process (loopback ports, a temporary data folder removed at exit): deploy a
function in front of an echo service that verifies ID tokens with go-oidc, create a
job that calls it without a token, run it (403), ask the doctor, apply the fix (an
invoker account, the invoker role, the job's OIDC token for the function's URL), run
it again (200) and show the claims the function verified. Each step is printed as
the oidcron command you would type. Exits non-zero, naming the step, if any outcome
is not the expected one.`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return demo.Run(ctx, g.Out)
		},
	}
}
