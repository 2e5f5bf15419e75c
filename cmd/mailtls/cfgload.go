package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mailtls/mailtls/config"
)

// configFlags adds the flags every configuration-reading command shares: -config and -v.
type configFlags struct {
	file    *string
	verbose *bool
}

func addConfigFlags(fs *flag.FlagSet) configFlags {
	return configFlags{
		file: fs.String("config", "", "configuration file (default: $"+config.EnvVar+", else "+
			config.DefaultPath+" if it exists, else the embedded default)"),
		verbose: fs.Bool("v", false, "say which configuration file is used, and why"),
	}
}

// locate is the configuration file this command uses.
func (f configFlags) locate() config.Location {
	return config.Locate(*f.file, os.Getenv, config.DefaultPath)
}

// load reads the located configuration; with -v it first says which file that is.
func (f configFlags) load(stderr io.Writer) (*config.Config, config.Location, error) {
	loc := f.locate()
	if *f.verbose {
		fmt.Fprintf(stderr, "mailtls: configuration %s\n", loc)
	}
	cfg, err := config.Load(loc.Path)
	return cfg, loc, err
}

// flagExit is the exit status after a flag parse error: 0 when help was asked for
// (-h, -help), 2 for a usage error.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
