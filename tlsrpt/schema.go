package tlsrpt

import _ "embed"

// reportSchema is the JSON Schema (draft 2020-12) of the RFC 8460 §4 report, written
// from §4.3 and §4.4.
//
//go:embed schema/report.schema.json
var reportSchema []byte

// ReportSchema returns a copy of the report's JSON Schema, for validators of sent and
// received reports.
func ReportSchema() []byte { return append([]byte(nil), reportSchema...) }
