package main

import (
	"fmt"
	"io"

	"github.com/mailtls/mailtls/config"
)

func cmdConfig(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 2 && args[0] == "check":
		if _, err := config.Load(args[1]); err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK\n", args[1])
		return 0
	case len(args) == 1 && args[0] == "default":
		_, _ = stdout.Write(config.DefaultYAML())
		return 0
	}
	fmt.Fprint(stderr, "Usage:\n  mailtls config check FILE   validate a configuration file; errors name the line\n  mailtls config default      print the embedded default configuration\n")
	return 2
}
