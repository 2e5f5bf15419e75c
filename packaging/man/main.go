// Command man writes mailtls's manual pages from the CLI's own help, so the pages say
// exactly what `mailtls COMMAND -h` says: mailtls(1) from `mailtls -h`, and one page per
// subcommand, mailtls-COMMAND(1), from `mailtls COMMAND -h` and the -h of its
// subcommands that have flags of their own.
//
//	go run ./packaging/man -bin ./mailtls -out DIR [-date 2026-12-01] [-version V]
//
// The page date is -date, else SOURCE_DATE_EPOCH, else today, so a release build writes
// the same pages every time.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "mailtls", "the mailtls binary whose help is turned into pages")
	out := flag.String("out", "man", "directory the section 1 pages are written to")
	date := flag.String("date", "", "page date, YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)")
	version := flag.String("version", "", "version shown in the page footer (default: from `mailtls version`)")
	flag.Parse()
	if err := generate(*bin, *out, pageDate(*date), *version); err != nil {
		fmt.Fprintln(os.Stderr, "man:", err)
		os.Exit(1)
	}
}

func pageDate(d string) string {
	if d != "" {
		return d
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC().Format("2006-01-02")
		}
	}
	return time.Now().UTC().Format("2006-01-02")
}

// help runs `bin args... -h` and returns what it printed; ok is false when it did not exit 0.
func help(bin string, args ...string) (string, bool) {
	cmd := exec.Command(bin, append(args, "-h")...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err == nil
}

var cmdLineRE = regexp.MustCompile(`^\s+mailtls ([a-z]+)(?: ([a-z][a-z|]*))?(.*)$`)

// page is one manual page: a command and the help texts it is made of.
type page struct {
	name    string   // "mailtls" or "mailtls-serve"
	summary string   // one line, for NAME
	helps   []string // help texts, the command's own first
}

func generate(bin, out, date, version string) error {
	top, ok := help(bin)
	if !ok {
		return fmt.Errorf("%s -h failed:\n%s", bin, top)
	}
	if version == "" {
		v, err := exec.Command(bin, "version").Output()
		if err != nil {
			return fmt.Errorf("%s version: %w", bin, err)
		}
		if f := strings.Fields(string(v)); len(f) > 1 {
			version = f[1]
		}
	}
	var order []string
	subs := map[string][]string{}
	summary := map[string]string{}
	topLines := strings.Split(top, "\n")
	for i, line := range topLines {
		m := cmdLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cmd := m[1]
		if !slices.Contains(order, cmd) {
			order = append(order, cmd)
		}
		for _, sub := range strings.Split(m[2], "|") { // "bench load|null"
			if sub != "" && !slices.Contains(subs[cmd], sub) {
				subs[cmd] = append(subs[cmd], sub)
			}
		}
		// The description follows the synopsis after two or more spaces, or, for a long
		// synopsis, on the next, deeper-indented line; a command's lines are joined.
		d := describe(m[3])
		if d == "" && i+1 < len(topLines) && strings.HasPrefix(topLines[i+1], "        ") && !cmdLineRE.MatchString(topLines[i+1]) {
			d = strings.TrimSpace(topLines[i+1])
		}
		if d != "" {
			summary[cmd] = strings.TrimPrefix(summary[cmd]+"; "+d, "; ")
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no commands found in %s -h", bin)
	}
	pages := []page{{name: "mailtls", summary: "SMTP TLS policy engine (DANE, MTA-STS) for Postfix", helps: []string{top}}}
	for _, cmd := range order {
		own, ok := help(bin, cmd)
		if !ok {
			return fmt.Errorf("mailtls %s -h exits non-zero:\n%s", cmd, own)
		}
		p := page{name: "mailtls-" + cmd, summary: summary[cmd], helps: []string{own}}
		for _, sub := range subs[cmd] {
			h, ok := help(bin, cmd, sub)
			if ok && strings.HasPrefix(h, "Usage: mailtls "+cmd+" "+sub) && !slices.Contains(p.helps, h) {
				p.helps = append(p.helps, h)
			}
		}
		pages = append(pages, p)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, p := range pages {
		var see []string
		for _, q := range pages {
			if q.name != p.name {
				see = append(see, `.BR `+esc(q.name)+` (1)`)
			}
		}
		text := render(p, date, version, see)
		if err := os.WriteFile(filepath.Join(out, p.name+".1"), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// describe strips the synopsis part from a usage line's tail, leaving its description
// (the text after a run of two or more spaces).
func describe(tail string) string {
	if i := regexp.MustCompile(`\s{2,}`).FindStringIndex(tail); i != nil {
		return strings.TrimSpace(tail[i[1]:])
	}
	return ""
}

// flagRE matches the flag package's listing: "  -name type" then an indented description.
var flagRE = regexp.MustCompile(`^  (-[a-z][a-z-]*)(?: ([a-z]+))?(?:\t(.*))?$`)

// render writes one page in man(7) roff.
func render(p page, date, version string, see []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated by packaging/man from `mailtls ... -h`; do not edit.\n")
	fmt.Fprintf(&b, ".TH %s 1 %q %q \"mailtls manual\"\n", strings.ToUpper(p.name), date, "mailtls "+version)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", esc(p.name), esc(p.summary))
	for i, h := range p.helps {
		usage, flags, rest := split(h)
		if i == 0 {
			b.WriteString(".SH SYNOPSIS\n")
		} else {
			fmt.Fprintf(&b, ".SH %s\n", esc(strings.ToUpper(strings.Join(strings.Fields(usage)[:min(3, len(strings.Fields(usage)))], " "))))
		}
		if usage != "" {
			fmt.Fprintf(&b, ".nf\n%s\n.fi\n", esc(strings.ReplaceAll(usage, "\\n", "\n")))
		}
		if rest != "" {
			if i == 0 {
				b.WriteString(".SH DESCRIPTION\n")
			}
			fmt.Fprintf(&b, ".nf\n%s\n.fi\n", esc(rest))
		}
		if len(flags) > 0 {
			if i == 0 {
				b.WriteString(".SH OPTIONS\n")
			}
			for _, f := range flags {
				fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", esc(f[0]), esc(f[1]))
			}
		}
	}
	if len(see) > 0 {
		fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", strings.Join(see, ",\n"))
	}
	return b.String()
}

// split separates a help text into its "Usage: mailtls ..." synopsis, its flag list
// (name with argument type, description) and the other text.
func split(h string) (usage string, flags [][2]string, rest string) {
	lines := strings.Split(strings.TrimRight(h, "\n"), "\n")
	var other []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case usage == "" && strings.HasPrefix(l, "Usage: "):
			usage = strings.TrimPrefix(l, "Usage: ")
		case usage == "" && l == "Usage:":
			// A block of "  mailtls ..." lines, each with its description: the synopsis
			// is the commands, the description keeps the whole block.
			var syn []string
			for _, u := range lines[i+1:] {
				if m := cmdLineRE.FindStringSubmatch(u); m != nil {
					cmd := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(u), describe(m[3])))
					syn = append(syn, cmd)
				}
			}
			usage = strings.Join(syn, "\n")
			other = append(other, l)
		case l == "Flags:":
		case flagRE.MatchString(l):
			m := flagRE.FindStringSubmatch(l)
			name, desc := m[1], m[3]
			if m[2] != "" {
				name += " " + strings.ToUpper(m[2])
			}
			for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
				i++
				desc = strings.TrimSpace(desc + " " + strings.TrimSpace(lines[i]))
			}
			flags = append(flags, [2]string{name, desc})
		default:
			other = append(other, l)
		}
	}
	return usage, flags, strings.Trim(strings.Join(other, "\n"), "\n")
}

// esc makes text safe in roff: backslashes and hyphens escaped, no line starting with a
// control character.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	var u strings.Builder
	for _, r := range s {
		if r > 126 {
			fmt.Fprintf(&u, `\[u%04X]`, r) // groff's Unicode escape: the pages stay ASCII
			continue
		}
		u.WriteRune(r)
	}
	lines := strings.Split(u.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
