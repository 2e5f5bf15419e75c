// Command testcheck runs `go test -json …` and fails when any test was skipped while
// integration is required (MAILTLS_REQUIRE_INTEGRATION=1), listing those tests: a test
// that did not run must never count as a pass. It is what make test runs:
//
//	MAILTLS_REQUIRE_INTEGRATION=1 go run ./internal/testcheck -- go test -json -race ./...
//
// Its output is what plain `go test` shows (failed tests in full, build errors, one line
// per package), then a summary. Skips of runs that must be asked for (testenv.OptIn: the
// soak, the side-by-side comparison, helper processes) are listed but do not fail. The
// exit status is 1 when the command failed, a test failed or a required test skipped.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/mailtls/mailtls/internal/testenv"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testcheck -- go test -json [flags] [packages]")
		os.Exit(2)
	}
	os.Exit(run(args, testenv.Required(), os.Stdout, os.Stderr))
}

// run runs the command, reports its stream on stdout and returns the exit status.
func run(args []string, required bool, stdout, stderr io.Writer) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testcheck:", err)
		return 1
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testcheck:", err)
		return 1
	}
	s, rerr := report(pipe, stdout)
	if rerr != nil {
		io.Copy(io.Discard, pipe)
	}
	werr := cmd.Wait()
	return verdict(s, rerr, werr, required, stdout)
}

// verdict prints the summary and decides the exit status.
func verdict(s *summary, readErr, cmdErr error, required bool, w io.Writer) int {
	status := 0
	fmt.Fprintf(w, "\ntestcheck: %d tests passed, %d failed (tests, packages, builds), %d skipped\n", s.Passed, s.Failed, len(s.Skipped))
	for _, k := range s.Skipped {
		if k.OptIn {
			fmt.Fprintf(w, "  not requested: %s: %s\n", k.Name, k.Reason)
		}
	}
	if req := s.required(); len(req) > 0 {
		verb := "skipped"
		if required {
			verb = "SKIPPED although integration is required (" + testenv.RequireEnv + "=1)"
			status = 1
		}
		fmt.Fprintf(w, "testcheck: %d tests %s:\n", len(req), verb)
		for _, k := range req {
			fmt.Fprintf(w, "  %s: %s\n", k.Name, k.Reason)
		}
	}
	if readErr != nil {
		fmt.Fprintln(w, "testcheck: reading the test stream:", readErr)
		status = 1
	}
	if cmdErr != nil {
		fmt.Fprintln(w, "testcheck: go test:", cmdErr)
		status = 1
	}
	if s.Failed > 0 {
		status = 1
	}
	if status == 0 {
		fmt.Fprintln(w, "testcheck: PASS")
	} else {
		fmt.Fprintln(w, "testcheck: FAIL")
	}
	return status
}
