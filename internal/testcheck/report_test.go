package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/internal/testenv"
)

// A stream as go test -json writes it (Go 1.26): a passing test with a skipped subtest, an
// opt-in skip, a failing test, a test cut off by a panic, a build failure.
const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:3: chatter of a passing test\n"}
{"Action":"run","Package":"p","Test":"TestA/sub"}
{"Action":"output","Package":"p","Test":"TestA/sub","Output":"=== RUN   TestA/sub\n"}
{"Action":"output","Package":"p","Test":"TestA/sub","Output":"    a_test.go:3: skipping: postmap not found\n"}
{"Action":"output","Package":"p","Test":"TestA/sub","Output":"--- SKIP: TestA/sub (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestA/sub","Elapsed":0}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
{"Action":"run","Package":"p","Test":"TestSoak"}
{"Action":"output","Package":"p","Test":"TestSoak","Output":"    soak_test.go:9: [testenv opt-in] not requested: MAILTLS_SOAK=10m\n"}
{"Action":"output","Package":"p","Test":"TestSoak","Output":"--- SKIP: TestSoak (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestSoak","Elapsed":0}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    a_test.go:4: the failure text\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestC","Output":"=== RUN   TestC\n"}
{"Action":"output","Package":"p","Test":"TestC","Output":"panic: the panic text\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.004s\n"}
{"Action":"fail","Package":"p","Elapsed":0.004}
{"Action":"output","Package":"q","Output":"PASS\n"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.1s\n"}
{"Action":"pass","Package":"q","Elapsed":0.1}
{"ImportPath":"r [r.test]","Action":"build-output","Output":"r/b.go:2:12: undefined: x\n"}
{"ImportPath":"r [r.test]","Action":"build-fail"}
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	s, err := report(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"the failure text", "--- FAIL: TestB", "panic: the panic text", "FAIL\tp\t0.004s", "ok  \tq\t0.1s", "r/b.go:2:12: undefined: x"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, quiet := range []string{"chatter of a passing test", "=== RUN   TestA", "--- SKIP", "PASS\n"} {
		if strings.Contains(got, quiet) {
			t.Errorf("output shows %q, which plain go test keeps quiet:\n%s", quiet, got)
		}
	}
	if s.Passed != 1 || s.Failed != 3 {
		t.Errorf("passed %d, failed %d; want 1 and 3 (TestB, package p, build r)", s.Passed, s.Failed)
	}
	req := s.required()
	if len(s.Skipped) != 2 || len(req) != 1 || req[0].Name != "p TestA/sub" || req[0].Reason != "a_test.go:3: skipping: postmap not found" {
		t.Errorf("skipped %+v, required %+v", s.Skipped, req)
	}
}

// The verdict: a skipped required test fails the run only when integration is required,
// opt-in skips never do, and a failure always does.
func TestVerdict(t *testing.T) {
	skip := skipped{Name: "p TestX", Reason: "postmap not found"}
	optIn := skipped{Name: "p TestSoak", Reason: testenv.OptInMarker + " not requested", OptIn: true}
	cases := []struct {
		name     string
		s        summary
		cmdErr   error
		required bool
		want     int
		listed   []string
	}{
		{"all passed", summary{Passed: 3}, nil, true, 0, nil},
		{"opt-in skip, required", summary{Passed: 3, Skipped: []skipped{optIn}}, nil, true, 0, []string{"not requested: p TestSoak"}},
		{"skip, not required", summary{Passed: 3, Skipped: []skipped{skip}}, nil, false, 0, []string{"1 tests skipped:", "p TestX: postmap not found"}},
		{"skip, required", summary{Passed: 3, Skipped: []skipped{skip, optIn}}, nil, true, 1, []string{"SKIPPED although integration is required", "p TestX: postmap not found"}},
		{"failed test", summary{Passed: 3, Failed: 1}, nil, false, 1, nil},
		{"go test failed without a failed event", summary{}, errors.New("exit status 2"), false, 1, []string{"exit status 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := verdict(&tc.s, nil, tc.cmdErr, tc.required, &out); got != tc.want {
				t.Errorf("status %d, want %d\n%s", got, tc.want, out.String())
			}
			for _, l := range tc.listed {
				if !strings.Contains(out.String(), l) {
					t.Errorf("output lacks %q:\n%s", l, out.String())
				}
			}
		})
	}
}

// The whole chain on a real go test run of testdata/skipdemo: with integration required the
// gate fails the test whose program is missing, the bare t.Skip is listed and fails the
// run, the opt-in run is listed as not requested; without it, both skips are reported and
// the run passes.
func TestCheckerOnRealStream(t *testing.T) {
	goBin := testenv.LookPath(t, "go", "the Go toolchain")
	args := []string{goBin, "test", "-json", "-count=1", "./testdata/skipdemo"}
	const pkg = "github.com/mailtls/mailtls/internal/testcheck/testdata/skipdemo"

	t.Run("required", func(t *testing.T) {
		t.Setenv(testenv.RequireEnv, "1")
		var out, errOut bytes.Buffer
		if got := run(args, true, &out, &errOut); got != 1 {
			t.Fatalf("status %d, want 1\n%s%s", got, out.String(), errOut.String())
		}
		for _, want := range []string{
			"integration prerequisite missing: mailtls-no-such-program not found",
			"--- FAIL: TestNeedsProgram",
			"1 tests passed, 2 failed",
			"1 tests SKIPPED although integration is required",
			pkg + " TestBareSkip: skipdemo_test.go:19: a bare skip, not through the gate",
			"not requested: " + pkg + " TestOptInRun",
			"testcheck: FAIL",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("not required", func(t *testing.T) {
		t.Setenv(testenv.RequireEnv, "")
		var out, errOut bytes.Buffer
		if got := run(args, false, &out, &errOut); got != 0 {
			t.Fatalf("status %d, want 0\n%s%s", got, out.String(), errOut.String())
		}
		for _, want := range []string{
			"1 tests passed, 0 failed",
			"2 tests skipped:",
			pkg + " TestNeedsProgram: skipdemo_test.go:15: skipping: mailtls-no-such-program not found",
			"testcheck: PASS",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
}
