package daemon

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/policy"
)

// The audit log keeps rendered reasons per cached decision (auditReasons): every line of
// answers asked again and again carries exactly the reasons a fresh rendering of the same
// decision gives, for every answer source.
func TestAuditReasonsKept(t *testing.T) {
	o := startOpsLab(t, "")
	for _, c := range sourceCases {
		before := len(o.readAudit(t))
		for range 3 {
			lab.Query(t, o.addr, c.profile, c.key)
		}
		var d policy.Decision
		o.d.parts.Engine.ResolveInto(context.Background(), (*o.d.profiles.Load())[c.profile], c.key, &d)
		want := d.Reasons()
		lines := o.readAudit(t)[before:]
		if len(lines) != 3 || len(want) == 0 {
			t.Fatalf("%s %s: %d lines, %d reasons", c.profile, c.key, len(lines), len(want))
		}
		for i, l := range lines {
			var got []string
			for _, r := range l["reasons"].([]any) {
				got = append(got, fmt.Sprint(r))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s line %d: reasons\n%q\nwant\n%q", c.profile, c.key, i, got, want)
			}
		}
	}
}
