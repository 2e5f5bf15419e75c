package oci

import (
	"os"
	"strings"
	"testing"

	"github.com/mailtls/mailtls/config"
)

// The image's configuration parses, keeps state in the volume and listens where a
// published port reaches it; the Containerfile runs as the non-root user it defines.
func TestImageDefinition(t *testing.T) {
	cfg, err := config.Load("mailtls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDirPath() != "/var/lib/mailtls" || len(cfg.Listen.Socketmap) != 1 || cfg.Listen.Socketmap[0].TCP != "0.0.0.0:8461" {
		t.Errorf("image configuration: state %s, listeners %+v", cfg.StateDirPath(), cfg.Listen.Socketmap)
	}
	cf, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	passwd, _ := os.ReadFile("passwd")
	for _, want := range []string{"FROM scratch\n", "USER 65532:65532\n", `VOLUME ["/var/lib/mailtls"]`, "COPY --chown=65532:65532 state/ /var/lib/mailtls/\n"} {
		if !strings.Contains(string(cf), want) {
			t.Errorf("Containerfile lacks %q", want)
		}
	}
	if !strings.Contains(string(passwd), ":65532:65532:") {
		t.Error("passwd does not define the image's user")
	}
}
