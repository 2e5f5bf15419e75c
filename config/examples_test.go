package config

import (
	"path/filepath"
	"testing"
)

// The shipped example configurations must stay valid.
func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../examples/*/mailtls.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
