// Package schemacheck validates report JSON against the RFC 8460 §4 JSON Schema kept in
// package tlsrpt (schema/report.schema.json), with format assertions on (date-time,
// hostname, ipv4, ipv6). Tests use it on the reports mailtls builds; inbound reporting can
// use it on the reports it receives.
package schemacheck

import (
	"bytes"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mailtls/mailtls/tlsrpt"
)

const schemaURL = "https://mailtls.invalid/schema/tlsrpt-report.json"

// Checker validates reports; build one with New and reuse it (it is safe for concurrent
// use).
type Checker struct{ sch *jsonschema.Schema }

// New compiles the report schema.
func New() (*Checker, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(tlsrpt.ReportSchema()))
	if err != nil {
		return nil, fmt.Errorf("schemacheck: report schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("schemacheck: report schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("schemacheck: report schema: %w", err)
	}
	return &Checker{sch: sch}, nil
}

// Validate checks one report's JSON text.
func (c *Checker) Validate(report []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(report))
	if err != nil {
		return fmt.Errorf("schemacheck: report is not JSON: %w", err)
	}
	if err := c.sch.Validate(v); err != nil {
		return fmt.Errorf("schemacheck: report does not match RFC 8460 §4: %w", err)
	}
	return nil
}
