package compare

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// row is one measured point.
type row struct {
	workload string
	conns    int
	target   string // null, peer, mailtls
	rate     float64
	p50, p99 time.Duration
	max      time.Duration
	errors   uint64
	replies  map[string]uint64
	// Queries the lab's DNS server and Unbound (the peer's resolver) received during the
	// run; resolverQ is -1 when Unbound's statistics could not be read.
	labQ, resolverQ int
	rounds          int     // how many runs the row is the median of
	spread          float64 // (max − min) / median of those runs' rates
}

// find returns the row for (workload, conns, target), or nil.
func find(rows []row, workload string, conns int, target string) *row {
	for i := range rows {
		if rows[i].workload == workload && rows[i].conns == conns && rows[i].target == target {
			return &rows[i]
		}
	}
	return nil
}

func perReply(queries int, replies uint64) string {
	if queries < 0 || replies == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(queries)/float64(replies))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// writeTable prints the rows with each target's ratio to the null server at the same
// point, and mailtls's ratio to the peer.
func writeTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tconns\ttarget\treplies/s\tp50\tp99\tmax\terrors\tOK\tNOTFOUND\tother\tlab dns q/reply\tunbound q/reply\tspread\t×null\tmailtls/peer\t")
	for _, r := range rows {
		vsNull, vsPeer := "-", ""
		if n := find(rows, r.workload, r.conns, "null"); n != nil && r.target != "null" {
			vsNull = ratio(r.rate, n.rate)
		}
		if p := find(rows, r.workload, r.conns, "peer"); p != nil && r.target == "mailtls" {
			vsPeer = ratio(r.rate, p.rate)
		}
		var total uint64
		for _, n := range r.replies {
			total += n
		}
		other := total - r.replies["OK"] - r.replies["NOTFOUND"]
		spread := "-"
		if r.rounds > 1 {
			spread = fmt.Sprintf("%.0f%%", 100*r.spread)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			r.workload, r.conns, r.target, r.rate, round(r.p50), round(r.p99), round(r.max),
			r.errors, r.replies["OK"], r.replies["NOTFOUND"], other,
			perReply(r.labQ, total), perReply(r.resolverQ, total), spread, vsNull, vsPeer)
	}
	tw.Flush()
}

// verdicts states the targets of the comparison issue against the measured rows.
func verdicts(rows []row, workload string, conns []int) []string {
	var out []string
	for _, c := range conns {
		m, p, n := find(rows, workload, c, "mailtls"), find(rows, workload, c, "peer"), find(rows, workload, c, "null")
		if m == nil || p == nil || n == nil {
			continue
		}
		if c == 32 {
			out = append(out, verdict(fmt.Sprintf("%s, %d conns: mailtls ≥ 2× peer", workload, c), m.rate/p.rate, 2))
		}
		out = append(out, verdict(fmt.Sprintf("%s, %d conns: mailtls ≥ 0.9× null", workload, c), m.rate/n.rate, 0.9))
	}
	return out
}

// negativeVerdicts compares mailtls's rate on domains without a policy (its negative
// cache) with its rate on cached policies, per connection count: the same rate is the goal.
func negativeVerdicts(rows []row, conns []int) []string {
	var out []string
	for _, c := range conns {
		none, pol := find(rows, "none", c, "mailtls"), find(rows, "policy", c, "mailtls")
		if none == nil || pol == nil {
			continue
		}
		out = append(out, verdict(fmt.Sprintf("%d conns: mailtls on no-policy domains ≥ 0.9× its rate on cached policies", c), none.rate/pol.rate, 0.9))
	}
	return out
}

func verdict(what string, got, want float64) string {
	ok := "met"
	if got < want {
		ok = "NOT met"
	}
	return fmt.Sprintf("%s: %.2f → %s", what, got, ok)
}

// round keeps three significant figures of a latency.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

func TestTable(t *testing.T) {
	rows := []row{
		{workload: "mixed", conns: 32, target: "null", rate: 100000, replies: map[string]uint64{"OK": 10}},
		{workload: "mixed", conns: 32, target: "peer", rate: 10000, replies: map[string]uint64{"OK": 5, "NOTFOUND": 5}, resolverQ: 5},
		{workload: "mixed", conns: 32, target: "mailtls", rate: 95000, p50: 123456 * time.Nanosecond, replies: map[string]uint64{"OK": 5, "NOTFOUND": 4, "TEMP": 1}},
	}
	var b strings.Builder
	writeTable(&b, rows)
	for _, want := range []string{"mailtls/peer", "0.95", "9.50", "0.500", "123µs"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	v := strings.Join(verdicts(rows, "mixed", []int{32}), "\n")
	if !strings.Contains(v, "2× peer: 9.50 → met") || !strings.Contains(v, "0.9× null: 0.95 → met") {
		t.Errorf("verdicts:\n%s", v)
	}
}
