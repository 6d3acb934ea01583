package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/server"
)

func serveCmd() *cobra.Command {
	var (
		cfg       server.Config
		logLevel  string
		logFormat string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run oidcron: the APIs, the OIDC issuer and the invoker gateway",
		Long: `Run oidcron in one process. The API address serves gRPC and REST, the OIDC
discovery document and JWKS, /healthz, /readyz and /metrics; the gateway address
fronts the functions. Every flag can also be set as OIDCRON_<FLAG> (for example
OIDCRON_GATEWAY_LISTEN).`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			opts := &slog.HandlerOptions{Level: lvl}
			switch logFormat {
			case "text":
				cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, opts))
			case "json":
				cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, opts))
			default:
				return fmt.Errorf("--log-format: %q is not text or json", logFormat)
			}
			if cfg.HistoryRetention < 1 {
				return fmt.Errorf("--history-retention: %d is not a number of attempts: it must be at least 1", cfg.HistoryRetention)
			}
			if cfg.DataDir == "" {
				cfg.DataDir = defaultDataDir()
			}
			return serve(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8930", "address for gRPC, REST, the OIDC documents, health and metrics")
	f.StringVar(&cfg.GatewayListen, "gateway-listen", "127.0.0.1:8931", "address of the invoker gateway")
	f.StringVar(&cfg.DataDir, "data", "", "folder for the database and the admin token (default: oidcron in the user's data directory)")
	f.StringVar(&cfg.Store, "store", "", "database: empty for SQLite in the data folder, or a postgres:// URL that several replicas may share")
	f.StringVar(&cfg.Issuer, "issuer", "", "OIDC issuer URL of the ID tokens (default: http:// + the listen address)")
	f.StringVar(&cfg.GatewayURL, "gateway-url", "", "public URL of the gateway, for the path form of function URLs (default: http:// + the gateway address)")
	f.BoolVar(&cfg.RequireAuth, "require-auth", false, "require a bearer token on every API call and create projects only explicitly (turns dev mode off)")
	f.DurationVar(&cfg.KeyRotation, "key-rotation", 24*time.Hour, "how often the issuer's signing key is rotated")
	f.StringVar(&cfg.DefaultLocation, "default-location", "us-central1", "the Cloud Scheduler location listed first (gcloud falls back to it without --location)")
	f.StringVar(&cfg.MetadataServiceAccount, "metadata-service-account", "", "service account email the metadata identity endpoint mints tokens for (empty: endpoint off)")
	f.IntVar(&cfg.HistoryRetention, "history-retention", 100, "attempts per job the history keeps (the newest)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func serve(parent context.Context, cfg server.Config) error {
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "oidcron serving\n  API (gRPC+REST): http://%s\n  issuer:          %s\n  gateway:         %s\n  data:            %s\n",
		s.Addrs.API, s.Addrs.Issuer, s.Addrs.GatewayURL, s.Addrs.DataDir)
	if cfg.RequireAuth {
		fmt.Fprintf(os.Stderr, "  admin token:     %s\n", s.Addrs.AdminToken)
	} else {
		fmt.Fprintf(os.Stderr, "  mode:            dev (unauthenticated calls act as user:dev@oidcron.local; --require-auth turns this off)\n")
	}
	<-ctx.Done()
	// From here a second signal has its default effect, ending the process
	// at once; what that cuts short is sent again at the next start.
	stop()
	cfg.Logger.Info("shutting down: attempts in flight get up to "+shutdownGrace.String()+" to finish; a second signal stops at once", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return s.Shutdown(sctx)
}

// shutdownGrace is how long attempts in flight may run on after a SIGTERM
// or SIGINT, as Kubernetes' default termination grace period; see
// server.Shutdown for what follows.
const shutdownGrace = 30 * time.Second

// defaultDataDir is oidcron's folder in the user's data directory
// ($XDG_DATA_HOME, else ~/.local/share on Linux, the OS config dir elsewhere).
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "oidcron")
	}
	if home, err := os.UserHomeDir(); err == nil && runtime.GOOS == "linux" {
		return filepath.Join(home, ".local", "share", "oidcron")
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "oidcron")
	}
	return ".oidcron"
}
