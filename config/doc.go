// Package config reads mailtls's YAML configuration: resolvers, MTA-STS fetch limits, the
// cache and its store, listeners and the per-map-name profiles Postfix selects. Errors name
// the file and line they come from, so `mailtls config check` points at what to fix.
//
// With no file at all, mailtls runs on the embedded default (default.yaml), which every
// field documented in README.md falls back to.
package config
