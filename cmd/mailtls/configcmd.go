package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mailtls/mailtls/config"
)

const configUsage = `Usage:
  mailtls config check [FILE | -] [-v]   validate a configuration (- reads standard input);
                                        without FILE the one serve would use. Errors name
                                        the file, line and key; the directories and files
                                        serve needs are checked on this machine
  mailtls config path                   print the configuration file the commands use, and why
  mailtls config default                print the embedded default configuration

The commands use -config FILE, else $MAILTLS_CONFIG, else /etc/mailtls/mailtls.yaml if
it exists, else the embedded default.
`

func cmdConfig(args []string, stdout, stderr io.Writer, stdin io.Reader) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	if h := args[len(args)-1]; h == "-h" || h == "-help" || h == "--help" || args[0] == "help" {
		if args[0] == "check" {
			return cmdConfigCheck(args[1:], stdout, stderr, stdin)
		}
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	switch args[0] {
	case "check":
		return cmdConfigCheck(args[1:], stdout, stderr, stdin)
	case "path":
		if len(args) == 1 {
			loc := config.Locate("", os.Getenv, config.DefaultPath)
			fmt.Fprintln(stdout, loc)
			return 0
		}
	case "default":
		if len(args) == 1 {
			_, _ = stdout.Write(config.DefaultYAML())
			return 0
		}
	}
	fmt.Fprint(stderr, configUsage)
	return 2
}

func cmdConfigCheck(args []string, stdout, stderr io.Writer, stdin io.Reader) int {
	fs := newFlagSet("config check", "config check [FILE | -] [-v]", stderr)
	cf := addConfigFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 1 {
		fs.Usage()
		return 2
	}
	if len(pos) == 1 {
		*cf.file = pos[0]
	}
	var cfg *config.Config
	loc := cf.locate()
	if *cf.verbose {
		fmt.Fprintf(stderr, "mailtls: configuration %s\n", loc)
	}
	if loc.Path == "-" {
		data, rerr := io.ReadAll(io.LimitReader(stdin, 16<<20))
		if rerr != nil {
			fmt.Fprintf(stderr, "mailtls: reading standard input: %v\n", rerr)
			return 1
		}
		cfg, err = config.Parse(data, "<stdin>")
	} else {
		cfg, err = config.Load(loc.Path)
	}
	if err == nil {
		err = cfg.CheckFiles()
	}
	name := loc.Path
	switch name {
	case "":
		name = "<default>"
	case "-":
		name = "<stdin>"
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", name)
	return 0
}
