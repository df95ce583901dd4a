// Package flagenv binds command-line flags whose defaults come from
// NEWSFLOW_* environment variables, and turns a bad value into an error that
// names the flag.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// EnvName returns the environment variable for a flag: NEWSFLOW_ + the flag
// name upper-cased with dashes as underscores (--batch-size → NEWSFLOW_BATCH_SIZE).
func EnvName(flagName string) string {
	return "NEWSFLOW_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func usage(name, u string) string {
	return fmt.Sprintf("%s (env %s)", u, EnvName(name))
}

// String binds a string flag; Parse applies its environment variable.
func String(fs *flag.FlagSet, p *string, name, def, u string) {
	fs.StringVar(p, name, def, usage(name, u))
}

// Int binds an int flag; Parse applies its environment variable.
func Int(fs *flag.FlagSet, p *int, name string, def int, u string) {
	fs.IntVar(p, name, def, usage(name, u))
}

// Int64 binds an int64 flag; Parse applies its environment variable.
func Int64(fs *flag.FlagSet, p *int64, name string, def int64, u string) {
	fs.Int64Var(p, name, def, usage(name, u))
}

// Float binds a float64 flag; Parse applies its environment variable.
func Float(fs *flag.FlagSet, p *float64, name string, def float64, u string) {
	fs.Float64Var(p, name, def, usage(name, u))
}

// Bool binds a bool flag; Parse applies its environment variable.
func Bool(fs *flag.FlagSet, p *bool, name string, def bool, u string) {
	fs.BoolVar(p, name, def, usage(name, u))
}

// Duration binds a duration flag; Parse applies its environment variable.
func Duration(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, u string) {
	fs.DurationVar(p, name, def, usage(name, u))
}

// List binds a comma-separated list flag; Parse applies its environment
// variable.
func List(fs *flag.FlagSet, p *[]string, name string, def []string, u string) {
	*p = def
	fs.Func(name, usage(name, u)+" (comma-separated)", func(s string) error {
		*p = Split(s)
		return nil
	})
}

// Split splits a comma-separated list, trimming blanks and dropping empties.
func Split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Parse sets every flag of fs whose environment variable (EnvName) is set to
// that value, then parses args, so the command line wins over the
// environment. Errors name the flag or the variable; callers exit 2 on error.
func Parse(fs *flag.FlagSet, args []string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(EnvName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s (flag -%s): %v", v, EnvName(f.Name), f.Name, err))
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return fs.Parse(args)
}

// Invalid returns an error for a flag value that fails validation, in the
// form "invalid value V for flag -NAME: WHY".
func Invalid(name string, value any, format string, args ...any) error {
	return fmt.Errorf("invalid value %q for flag -%s: %s", fmt.Sprint(value), name, fmt.Sprintf(format, args...))
}

// ParseArgs is Parse for a command's main: it parses args into fs, then runs
// the checks in order. It returns ok to go on; otherwise the exit code, 0
// after -h and 2 for a bad flag or a failed check, having written
// "NAME: error" to w (NAME is fs.Name()).
func ParseArgs(fs *flag.FlagSet, args []string, w io.Writer, checks ...func() error) (code int, ok bool) {
	fs.SetOutput(w)
	if err := Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		fmt.Fprintf(w, "%s: %v\n", fs.Name(), err)
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(w, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	for _, check := range checks {
		if err := check(); err != nil {
			fmt.Fprintf(w, "%s: %v\n", fs.Name(), err)
			return 2, false
		}
	}
	return 0, true
}
