package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path over the embedded default. An empty path means the default
// alone. Every problem found is returned together, each with its line, as Errors.
func Load(path string) (*Config, error) {
	if path == "" {
		return parse(nil, "")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse is Load on bytes already read; name is used in error messages. Data that holds
// no setting at all (an empty file, only blank lines or comments, an empty or null YAML
// document) is refused: such a file is far more often a truncated write or a template
// that rendered to nothing than a wish for the defaults, and accepting it on SIGHUP would
// silently drop every override and profile. A file meaning "all defaults" says {}.
func Parse(data []byte, name string) (*Config, error) {
	if !holdsSettings(data) {
		return nil, Errors{{File: name, Msg: "the file holds no settings (empty, or only comments); " +
			"an empty file is refused so a truncated one cannot replace the configuration: " +
			"write {} to run on the defaults"}}
	}
	return parse(data, name)
}

// holdsSettings reports whether data's first YAML document is something other than
// nothing or null. Malformed YAML counts as settings, so parse reports its error.
func holdsSettings(data []byte) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		return false
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return true
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return false
	}
	n := root.Content[0]
	return n.Kind != yaml.ScalarNode || n.ShortTag() != "!!null"
}

// parse decodes data over the embedded default and validates the result.
func parse(data []byte, name string) (*Config, error) {
	cfg := &Config{Profiles: builtinProfiles()}
	if err := decode(defaultYAML, cfg); err != nil {
		return nil, fmt.Errorf("embedded default configuration: %w", err)
	}
	lines := map[string]int{}
	var errs Errors
	if len(bytes.TrimSpace(data)) > 0 {
		var fatal bool
		if lines, errs, fatal = decodeFile(data, cfg, name); fatal {
			return nil, errs
		}
	}
	cfg.Source, cfg.lines = name, lines
	if errs = append(errs, cfg.validate(name, lines)...); len(errs) > 0 {
		sortByLine(errs)
		return nil, errs
	}
	return cfg, nil
}

// decode decodes data into cfg. Its error is a *yaml.TypeError when the decoder went on
// past values of the wrong type, else the YAML library's error.
func decode(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document decodes to io.EOF: it changes nothing (Parse has already refused a
	// file that is nothing else).
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// sortByLine orders errors by their line in the file; errors without a line (values of
// the embedded default) come last, each group in the order found.
func sortByLine(errs Errors) {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
}

// toErrors turns the YAML library's messages ("line 7: field x not found in type ...")
// into Errors carrying the file name and line.
func toErrors(err error, name string) Errors {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	lineRE := regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	var out Errors
	for _, m := range msgs {
		e := &Error{File: name, Msg: m}
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
			e.Msg = sub[2]
		}
		e.Msg = strings.ReplaceAll(e.Msg, "config.", "")
		out = append(out, e)
	}
	return out
}

// recordLines maps dotted key paths ("mta_sts.fetch_timeout", "listen.socketmap.0.tcp")
// to the line they are written on, so validation errors can name it.
func recordLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			recordLines(c, prefix, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(prefix, k.Value)
			lines[p] = k.Line
			recordLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := join(prefix, strconv.Itoa(i))
			lines[p] = c.Line
			recordLines(c, p, lines)
		}
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// UnmarshalYAML parses a Go duration string ("90s", "5m").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return lineError(n, "duration must be a string like \"10s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return lineError(n, fmt.Sprintf("invalid duration %q (use e.g. 10s, 5m, 24h)", s))
	}
	if v < 0 {
		return lineError(n, fmt.Sprintf("duration %q must not be negative", s))
	}
	*d = Duration(v)
	return nil
}

// lineError reports a problem at n as a *yaml.TypeError, which the decoder collects and
// continues past, so one run reports every bad value.
func lineError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}
