package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mailtls/mailtls/internal/testenv"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

// skipped is a test that did not run, with what it said about why.
type skipped struct {
	Name   string // package and test, "github.com/mailtls/mailtls/socketmap TestX"
	Reason string
	OptIn  bool // skipped through testenv.OptIn: a run nobody asked for
}

// summary is what the stream held.
type summary struct {
	Failed  int // failed tests, packages and builds
	Passed  int // passed tests
	Skipped []skipped
}

// required lists the skipped tests that are not opt-in runs: with integration required,
// each is a failure.
func (s *summary) required() []skipped {
	var out []skipped
	for _, k := range s.Skipped {
		if !k.OptIn {
			out = append(out, k)
		}
	}
	return out
}

// testKey names one test of one package.
type testKey struct{ pkg, test string }

// report reads a `go test -json` stream from r and writes to w what plain `go test`
// would show: the output of failed tests (in full, as the test wrote it), build errors,
// and each package's closing line; passing and skipped tests stay quiet. Output of a test
// that never ended (a panic, a timeout) is shown when its package ends.
func report(r io.Reader, w io.Writer) (*summary, error) {
	s := &summary{}
	buf := map[testKey][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Not an event (go test writes some errors as plain text): pass it on.
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := testKey{e.Package, e.Test}
		switch e.Action {
		case "build-output":
			io.WriteString(w, e.Output)
		case "build-fail":
			s.Failed++
		case "output":
			if e.Test == "" {
				if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
					io.WriteString(w, e.Output)
				}
				continue
			}
			buf[k] = append(buf[k], e.Output)
		case "pass":
			if e.Test != "" {
				s.Passed++
			}
			delete(buf, k)
		case "skip":
			if e.Test == "" {
				continue // a package without tests
			}
			reason := skipReason(buf[k])
			s.Skipped = append(s.Skipped, skipped{Name: e.Package + " " + e.Test, Reason: reason, OptIn: strings.Contains(reason, testenv.OptInMarker)})
			delete(buf, k)
		case "fail":
			s.Failed++
			if e.Test != "" {
				for _, o := range buf[k] {
					io.WriteString(w, o)
				}
				delete(buf, k)
				continue
			}
			// The package ended: show what its unfinished tests wrote.
			var left []testKey
			for bk := range buf {
				if bk.pkg == e.Package {
					left = append(left, bk)
				}
			}
			sort.Slice(left, func(i, j int) bool { return left[i].test < left[j].test })
			for _, bk := range left {
				for _, o := range buf[bk] {
					io.WriteString(w, o)
				}
				delete(buf, bk)
			}
		}
	}
	return s, sc.Err()
}

// skipReason is what a skipped test wrote, without the framing lines.
func skipReason(out []string) string {
	var parts []string
	for _, o := range out {
		o = strings.TrimSpace(o)
		if o == "" || strings.HasPrefix(o, "=== ") || strings.HasPrefix(o, "--- SKIP") {
			continue
		}
		parts = append(parts, o)
	}
	return strings.Join(parts, " | ")
}
