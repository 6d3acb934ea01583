// Command oidcron is one binary: `oidcron serve` runs the server; the
// gcloud-shaped client commands come beside it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/oidcron/oidcron/internal/cli"
)

func main() {
	root := &cobra.Command{
		Use:           "oidcron",
		Short:         "A self-hosted, Google-API-compatible Cloud Scheduler with real identity",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g := cli.NewGlobals()
	g.AddFlags(root)
	root.AddCommand(serveCmd())
	root.AddCommand(cli.Commands(g)...)
	root.AddCommand(demoCmd(g))
	if cmd, err := cli.Execute(context.Background(), root, os.Args[1:]); err != nil {
		// gcloud's shape: ERROR: (gcloud.scheduler.jobs.run) NOT_FOUND: ...
		path := strings.ReplaceAll(cmd.CommandPath(), " ", ".")
		if _, outside := errors.AsType[*cli.OutsideError](err); outside {
			path = root.Name() // gcloud's "ERROR: (gcloud) ..."
		}
		fmt.Fprintf(os.Stderr, "ERROR: (%s) %s\n", path, err)
		if _, usage := errors.AsType[*cli.UsageError](err); usage {
			os.Exit(2) // as gcloud: a command line it could not use
		}
		os.Exit(1)
	}
}

// bindEnv lets every flag of cmd's own be set by OIDCRON_<FLAG_NAME>
// (dashes as underscores), with the command line winning. The client's
// global flags are not cmd's: OIDCRON_PROJECT and OIDCRON_ENDPOINT are the
// client's defaults, and --quiet takes no value.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		env := "OIDCRON_" + envName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
			f.Changed = true
		}
	})
	return err
}

func envName(flag string) string {
	b := []byte(flag)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
