package daemon

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/mailtls/mailtls/config"
	"github.com/mailtls/mailtls/internal/netguard"
	"github.com/mailtls/mailtls/mtasts"
	"github.com/mailtls/mailtls/policy"
)

// Reload applies a new configuration without dropping connections: profiles, overrides,
// ASN rules, the audit log and every mta_sts setting (fetch limits, CA file, allowed
// addresses, timers) change at once. Listeners, resolvers, the DANE check, the cache,
// metrics, logging and the state directory need a restart: a changed one is named in a
// warning and keeps its running value. On error nothing changes.
func (d *Daemon) Reload(cfg *config.Config) error {
	overrides, err := policy.OverridesFromConfig(cfg.Overrides)
	if err != nil {
		return err
	}
	asnRules, err := loadASN(cfg)
	if err != nil {
		return err
	}
	fetcher, err := newFetcher(cfg.MTASTS, d.parts.Resolver)
	if err != nil {
		return err
	}
	// The audit log is opened anew: that also follows a file logrotate has moved.
	a, err := openAudit(cfg.Audit, auditLost(d.metrics, d.log))
	if err != nil {
		return err
	}
	if err := d.hosting.reload(cfg, d.log); err != nil {
		a.close(nil)
		return err
	}
	profiles := policy.ProfilesFromConfig(cfg)
	d.parts.Engine.SetOverrides(overrides)
	d.parts.Engine.SetASNRules(asnRules)
	d.parts.guard.cur.Store(&netguard.Guard{Allow: cfg.MTASTS.AllowPrefixes()})
	d.parts.fetcher.cur.Swap(fetcher).CloseIdleConnections()
	d.parts.Engine.SetSTSTimers(policy.STSTimers{
		FetchTimeout:    cfg.MTASTS.FetchTimeout.D(),
		FailureRetry:    cfg.MTASTS.FailureRetry.D(),
		RefreshInterval: cfg.MTASTS.RefreshInterval.D(),
		TXTTTLMin:       cfg.MTASTS.TXTTTLMin.D(),
	})
	d.metrics.queryCount.setProfiles(profiles)
	d.profiles.Store(&profiles)
	d.audit.Swap(a).close(a)
	if keys := restartNeeded(d.cfg, cfg); len(keys) > 0 {
		d.log.Warn("configuration reloaded, but these settings changed and keep their running value until the next restart",
			"settings", strings.Join(keys, ", "))
	}
	d.log.Info("configuration reloaded", "config", cfgName(cfg), "profiles", len(profiles), "overrides", overrides.Len())
	return nil
}

// appliedLive are the top-level configuration sections Reload applies.
func appliedLive(section string) bool {
	switch section {
	case "mta_sts", "overrides", "profiles", "asn", "audit", "hosting": // hosting names its own restart-only settings
		return true
	}
	return false
}

// restartNeeded lists, as dotted keys ("listen.max_connections"), the settings of every
// section Reload does not apply that differ between the running configuration and next.
// It walks the configuration's fields, so a setting added later is covered unasked.
func restartNeeded(running, next *config.Config) []string {
	var keys []string
	diffKeys(reflect.ValueOf(*running), reflect.ValueOf(*next), "", &keys)
	return keys
}

func diffKeys(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || prefix == "" && appliedLive(name) {
			continue
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		if av, bv := a.Field(i), b.Field(i); av.Kind() == reflect.Struct {
			diffKeys(av, bv, key, keys)
		} else if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			*keys = append(*keys, key)
		}
	}
}

// swapFetcher is the engine's MTA-STS fetcher; Reload replaces the one behind it.
type swapFetcher struct {
	cur atomic.Pointer[mtasts.Fetcher]
}

func (f *swapFetcher) Fetch(ctx context.Context, domain string) (*mtasts.FetchResult, error) {
	return f.cur.Load().Fetch(ctx, domain)
}

// swapGuard is the SSRF guard every policy fetch dials through; Reload replaces the one
// behind it (mta_sts.allow_addresses).
type swapGuard struct {
	cur atomic.Pointer[netguard.Guard]
}

func (g *swapGuard) Control(network, address string, c syscall.RawConn) error {
	return g.cur.Load().Control(network, address, c)
}
