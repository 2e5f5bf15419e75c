// Package haraka holds haraka-plugin-mailtls, the Haraka (npm Haraka, pinned in
// package.json) outbound plugin that asks mailtls's HTTP JSON API for each recipient
// domain's TLS policy and enforces what Haraka can per destination (index.js, lib/), and
// the Go test that runs the plugin's own tests (node:test, test/) so that make test runs
// them. The plugin is JavaScript; this package has no Go code besides the test.
package haraka
