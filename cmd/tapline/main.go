package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/config/configtype"
)

// Set at build time: go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse HEAD)".
var (
	version = "dev"
	commit  = "dev"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Main runs the command line args and returns the exit status. ctx ends on
// SIGINT or SIGTERM.
func Main(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	a := &app{env: env, stdout: stdout, stderr: stderr, version: version, commit: commit}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	msg := configtype.OneLine(err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(msg, "unknown command") {
		fmt.Fprintf(stderr, "tapline: %s (see tapline --help)\n", msg)
		return exitUsage
	}
	fmt.Fprintf(stderr, "tapline: %s\n", msg)
	return exitError
}

// app is what every subcommand shares: the process's environment and
// output, the build, and the global flags.
type app struct {
	env            []string
	stdout, stderr io.Writer
	version        string
	commit         string

	configFile string
	dataDir    string
	set        []string
}

// rootCommand is `tapline` and its subcommands. A new subcommand is a file
// with a func (a *app) xxxCommand() *cobra.Command, added to the list here.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "tapline",
		Short:         "Traces, access and TLS events, and compliance evidence for services behind Nginx and a mesh",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(a.stderr, cmd.UsageString())
			return usageError{errors.New("a command is required")}
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "configuration file (YAML); default $TAPLINE_CONFIG")
	pf.StringVar(&a.dataDir, "data-dir", "", "data directory (data_dir); default ./"+"tapline-data")
	pf.StringArrayVar(&a.set, "set", nil, "set a configuration key, e.g. --set log.level=debug (repeatable)")

	root.AddCommand(
		a.runCommand(),
		a.collectorCommand(),
		a.ingestCommand(),
		a.proxyCommand(),
		a.queryCommand(),
		a.reportCommand(),
		a.migrateCommand(),
		a.configCommand(),
		a.versionCommand(),
		a.demoCommand(),
	)
	return root
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && !cmd.HasParent() {
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), args[0])}
	}
	return nil
}
