package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mailtls/mailtls/internal/lab"
	"github.com/mailtls/mailtls/internal/testenv"
)

// TestExamplesRun starts each shipped example (examples/*/) the way it tells operators to
// use it. Where it has a main.cf, Postfix's own postconf(1) reads it (every setting known to
// this Postfix and taken as written), mailtls serves the example's mailtls.yaml (through
// systemd's socket activation, with systemd-socket-activate in systemd's place, when the
// example ships a mailtls.socket.d drop-in), and Postfix's postmap(1), configured with
// that main.cf, asks the daemon through the policy map the main.cf names and gets the
// MTA-STS answer. Where it has none, the "postmap -q KEY TABLE → ANSWER" line of its
// mailtls.yaml is run and its answer checked. Only what cannot run on a test machine as
// written is moved: state, sockets, ports and audit file into temporary places, the
// resolver and CA to the lab's. The audit log and metrics listener an example configures
// must work too.
func TestExamplesRun(t *testing.T) {
	postconf := testenv.LookPath(t, "postconf", "Debian package postfix")
	postmap := testenv.LookPath(t, "postmap", "Debian package postfix")
	version := postfixVersion(t, postconf)
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil || len(dirs) < 2 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	l := lab.New(t)
	l.STS("example.com", "1", lab.Policy("enforce", 86400, "mx.example.com"))
	bin := buildBinary(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			yamlPath := filepath.Join(dir, "mailtls.yaml")
			yamlText, err := os.ReadFile(yamlPath)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			tcp, metrics := lab.FreeAddr(t), lab.FreeAddr(t)
			spool := filepath.Join(tmp, "spool")
			audit := filepath.Join(tmp, "audit.log")
			pfdir := filepath.Join(tmp, "postfix")
			for _, d := range []string{pfdir, filepath.Join(spool, "private")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// How Postfix asks: the map of main.cf, else the example's documented postmap line.
			var table, key, want, profile string
			mainCF, err := os.ReadFile(filepath.Join(dir, "main.cf"))
			switch {
			case err == nil:
				settings := checkMainCF(t, postconf, version, mainCF)
				table, key = settings["smtp_tls_policy_maps"], "example.com"
				moved := strings.ReplaceAll(string(mainCF), "127.0.0.1:8461", tcp) + "queue_directory = " + spool + "\n"
				if err := os.WriteFile(filepath.Join(pfdir, "main.cf"), []byte(moved), 0o644); err != nil {
					t.Fatal(err)
				}
			case errors.Is(err, os.ErrNotExist):
				m := regexp.MustCompile(`(?m)postmap -q (\S+) (socketmap:\S+)\s+→ (.+)$`).FindStringSubmatch(string(yamlText))
				if m == nil {
					t.Fatalf("%s: no main.cf, and mailtls.yaml shows no \"postmap -q KEY TABLE → ANSWER\" line", dir)
				}
				key, table, want = m[1], m[2], strings.TrimSpace(m[3])
				if err := os.WriteFile(filepath.Join(pfdir, "main.cf"), []byte("compatibility_level = 3.6\nqueue_directory = "+spool+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatal(err)
			}
			table = strings.ReplaceAll(table, "127.0.0.1:8461", tcp)
			m := regexp.MustCompile(`^socketmap:(?:inet:[^:]+:\d+|unix:\S+):([\w.-]+)$`).FindStringSubmatch(table)
			if m == nil {
				t.Fatalf("policy map %q: want one socketmap table", table)
			}
			profile = m[1]
			if want == "" {
				want = "secure match=mx.example.com servername=hostname"
				if profile == "postfix-tlsrpt" {
					want += " policy_type=sts policy_domain=example.com"
				}
			}

			// The example daemon, moved into tmp; with its socket drop-in, started the way
			// systemd would start it.
			cfg := writeConfig(t, tmp, exampleConfig(t, yamlPath, l, tmp, spool, tcp, metrics, audit))
			argv := []string{bin, "serve", "-config", cfg}
			if unix := dropInSockets(t, dir, spool); len(unix) > 0 {
				activate := testenv.LookPath(t, "systemd-socket-activate", "Debian package systemd")
				pre := []string{activate, "-l", tcp}
				for _, u := range unix {
					pre = append(pre, "-l", u)
				}
				argv = append(pre, argv...)
			}
			startProc(t, tcp, argv...)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pm := exec.CommandContext(ctx, postmap, "-c", pfdir, "-q", key, table)
			pm.Dir = spool // Postfix's daemons run in the queue directory: unix:private/… is relative to it
			var pmErr bytes.Buffer
			pm.Stderr = &pmErr
			out, err := pm.Output()
			if err != nil || !strings.HasPrefix(string(out), want) {
				t.Fatalf("postmap -q %s %s: %v, %q (stderr %q); want %q…", key, table, err, out, pmErr.String(), want)
			}

			// The example's audit log and metrics listener, when it has them.
			if bytes.Contains(yamlText, []byte("\naudit:")) {
				waitFor(t, "the audit line of the postmap query", 10*time.Second, func() bool {
					b, _ := os.ReadFile(audit)
					return bytes.Contains(b, []byte(`"key":"`+key+`"`))
				})
				var line struct{ Profile, Answer string }
				b, _ := os.ReadFile(audit)
				first, _, _ := bytes.Cut(b, []byte("\n"))
				if err := json.Unmarshal(first, &line); err != nil || line.Profile != profile || !strings.HasPrefix(line.Answer, "OK "+want) {
					t.Errorf("audit line %s (%v): want profile %s and the answer", first, err, profile)
				}
			}
			if bytes.Contains(yamlText, []byte("\nmetrics:")) {
				resp, err := http.Get("http://" + metrics + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`mailtls_queries_total{answer="OK",profile=%q,source="mta-sts"} 1`, profile)) {
					t.Errorf("metrics: %d, want the query counted for profile %s:\n%s", resp.StatusCode, profile, grepLines(string(body), "mailtls_queries_total"))
				}
			}
		})
	}
}

// dropInSockets returns the Unix sockets the example's mailtls.socket.d drop-ins make
// systemd listen on (ListenStream=/var/spool/postfix/…), moved into spool.
func dropInSockets(t *testing.T, dir, spool string) []string {
	t.Helper()
	confs, _ := filepath.Glob(filepath.Join(dir, "mailtls.socket.d", "*.conf"))
	var out []string
	for _, c := range confs {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(strings.TrimSpace(line), "ListenStream=")
			if !ok || !strings.HasPrefix(v, "/") {
				continue
			}
			const spoolDir = "/var/spool/postfix/"
			if !strings.HasPrefix(v, spoolDir) {
				t.Fatalf("%s: socket %s outside Postfix's spool", c, v)
			}
			out = append(out, filepath.Join(spool, strings.TrimPrefix(v, spoolDir)))
		}
	}
	return out
}

// postfixVersion is the installed Postfix's mail_version as major*100+minor (3.7 → 307).
func postfixVersion(t *testing.T, postconf string) int {
	t.Helper()
	out, err := exec.Command(postconf, "-d", "-h", "mail_version").Output()
	if err != nil {
		t.Fatalf("postconf -d mail_version: %v", err)
	}
	parts := strings.SplitN(strings.TrimSpace(string(out)), ".", 3)
	if len(parts) < 2 {
		t.Fatalf("mail_version %q", out)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("mail_version %q: %v", out, err)
	}
	return major*100 + minor
}

// newerParams are main.cf parameters of the examples that the installed Postfix may be
// too old to know, with the version that introduced them.
var newerParams = map[string]int{"smtp_tlsrpt_enable": 310, "smtp_tlsrpt_socket_name": 310}

// checkMainCF has postconf read main.cf (with the master.cf Debian ships) and returns its
// settings. Every setting must be known to this Postfix (no "unused parameter" warning,
// except for parameters newer than it) and come back from postconf -n as written.
func checkMainCF(t *testing.T, postconf string, version int, mainCF []byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), mainCF, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), masterCFDist(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(postconf, "-c", dir, "-n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("postconf -n: %v\n%s", err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			got[k] = v
		}
	}
	unused := regexp.MustCompile(`unused parameter: ([\w]+)=`)
	for _, w := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if w == "" {
			continue
		}
		if m := unused.FindStringSubmatch(w); m != nil && newerParams[m[1]] > version {
			t.Logf("Postfix %d.%d does not know %s (new in %d.%d): expected", version/100, version%100, m[1], newerParams[m[1]]/100, newerParams[m[1]]%100)
			continue
		}
		t.Errorf("postconf: %s", w)
	}
	for _, line := range strings.Split(string(mainCF), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			t.Errorf("main.cf line %q is not \"name = value\"", line)
			continue
		}
		if newerParams[k] > version {
			continue
		}
		if got[k] != v {
			t.Errorf("postconf -n: %s = %q, main.cf says %q", k, got[k], v)
		}
	}
	return got
}

// masterCFDist is the master.cf a fresh Debian Postfix ships with.
func masterCFDist(t *testing.T) []byte {
	t.Helper()
	for _, p := range []string{"/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf.proto", "/etc/postfix/master.cf"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	testenv.Missing(t, "no master.cf template (Debian package postfix)")
	return nil
}

// exampleConfig is the example mailtls.yaml with what cannot run here as written moved:
// the state directory, the socketmap listeners (Unix socket into spool/private, TCP to
// tcp), the metrics address, the audit file, and the resolver, CA and self-check names
// of the lab. Everything else (profiles, socket owner, group and mode) stays.
func exampleConfig(t *testing.T, path string, l *lab.Lab, state, spool, tcp, metrics, audit string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c["state_dir"] = state
	c["resolver"] = map[string]any{"servers": []string{l.DNS.Addr}, "timeout": "500ms"}
	c["dane"] = map[string]any{"check_signed": lab.CheckSigned, "check_bogus": lab.CheckBogus}
	c["mta_sts"] = map[string]any{"ca_file": l.CAFile, "allow_addresses": []string{"127.0.0.0/8"}}
	if _, ok := c["metrics"]; ok {
		c["metrics"] = map[string]any{"listen": metrics}
	}
	if _, ok := c["audit"]; ok {
		c["audit"] = map[string]any{"file": audit}
	}
	listen, _ := c["listen"].(map[string]any)
	sockets, _ := listen["socketmap"].([]any)
	if len(sockets) == 0 {
		t.Fatalf("%s: no socketmap listener", path)
	}
	for _, s := range sockets {
		s := s.(map[string]any)
		if _, ok := s["tcp"]; ok {
			s["tcp"] = tcp
		}
		if u, ok := s["unix"].(string); ok {
			const spoolDir = "/var/spool/postfix/"
			if !strings.HasPrefix(u, spoolDir) {
				t.Fatalf("%s: Unix listener %s outside Postfix's spool", path, u)
			}
			p := filepath.Join(spool, strings.TrimPrefix(u, spoolDir))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			s["unix"] = p
		}
	}
	if tr, ok := c["tlsrpt"].(map[string]any); ok {
		if u, ok := tr["socket"].(string); ok && u != "" {
			const spoolDir = "/var/spool/postfix/"
			if !strings.HasPrefix(u, spoolDir) {
				t.Fatalf("%s: TLSRPT socket %s outside Postfix's spool", path, u)
			}
			tr["socket"] = filepath.Join(spool, strings.TrimPrefix(u, spoolDir))
		}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
