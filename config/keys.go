package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeFile decodes a configuration file's YAML over cfg. Problems come back as Errors
// named by YAML path ("resolver.timeout", never a Go type), an unknown key with the
// nearest known one, together with the map from each key path to its line. fatal is true
// for a syntax error, which leaves nothing decoded to validate; after values of the wrong
// type or unknown keys the rest of the file is decoded and can be validated too.
func decodeFile(data []byte, cfg *Config, name string) (lines map[string]int, errs Errors, fatal bool) {
	lines = map[string]int{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return lines, toErrors(err, name), true
	}
	recordLines(&root, "", lines)
	errs = unknownKeys(&root, reflect.TypeFor[Config](), "", name)
	if err := decode(data, cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return lines, append(errs, toErrors(err, name)...), true
		}
		for _, e := range toErrors(err, name) {
			if notFoundRE.MatchString(e.Msg) {
				continue // reported above by unknownKeys, with its path and a suggestion
			}
			e.Msg = readableTypes(e.Msg)
			if p := pathAt(lines, e.Line); p != "" && !strings.HasPrefix(e.Msg, p+":") {
				e.Msg = p + ": " + e.Msg
			}
			errs = append(errs, e)
		}
	}
	return lines, errs, false
}

var notFoundRE = regexp.MustCompile(`^field .* not found in type `)

// unknownKeys walks the document against the type it decodes into and reports each key
// that type does not have, by its YAML path, suggesting the nearest known key.
func unknownKeys(n *yaml.Node, t reflect.Type, path, file string) Errors {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs Errors
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, unknownKeys(c, t, path, file)...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a YAML merge key: its mapping belongs to this one
				errs = append(errs, unknownKeys(v, t, path, file)...)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				msg := join(path, k.Value) + ": unknown key"
				if s := nearest(k.Value, slices.Sorted(mapsKeys(fields))); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", join(path, s))
				}
				errs = append(errs, &Error{File: file, Line: k.Line, Msg: msg})
				continue
			}
			errs = append(errs, unknownKeys(v, ft, join(path, k.Value), file)...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, unknownKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), file)...)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			errs = append(errs, unknownKeys(c, t.Elem(), join(path, fmt.Sprint(i)), file)...)
		}
	}
	return errs
}

// yamlFields maps the YAML keys of a struct type to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, yamlFields(f.Type)) // an inlined struct's keys are the parent's
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func mapsKeys(m map[string]reflect.Type) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// nearest is the candidate closest to s by edit distance, if it is close enough to be
// a likely typo (at most a third of the longer name, and at least 1 edit allowed).
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(len(s), len(best))/3 + 1
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes; keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// pathAt is the key path written on line: the one path there, or, for a flow mapping
// holding several keys on one line, their common parent. "" when none is.
func pathAt(lines map[string]int, line int) string {
	if line == 0 {
		return ""
	}
	var common []string
	found := false
	for p, l := range lines {
		if l != line {
			continue
		}
		parts := strings.Split(p, ".")
		if !found {
			common, found = parts, true
			continue
		}
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	return strings.Join(common, ".")
}

var goTypeRE = regexp.MustCompile(`into (\S+)$`)

// readableTypes replaces the Go type a YAML value could not be decoded into with what a
// configuration author calls it.
func readableTypes(msg string) string {
	return goTypeRE.ReplaceAllStringFunc(msg, func(m string) string {
		t := strings.TrimPrefix(m, "into ")
		switch {
		case strings.HasPrefix(t, "[]"):
			return "into a list"
		case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
			return "into a mapping"
		case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
			return "into a whole number"
		case strings.HasPrefix(t, "float"):
			return "into a number"
		case t == "bool":
			return "into true or false"
		case t == "string":
			return "into a string"
		}
		return m
	})
}
