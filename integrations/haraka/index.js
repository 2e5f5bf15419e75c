'use strict'
// haraka-plugin-mailtls: Haraka's outbound delivery asks mailtls's HTTP JSON API for the
// TLS policy of each recipient domain (get_mx hook) and enforces what Haraka can enforce
// per destination: defer on TEMP, PERM, an answer it cannot enforce, or mailtls being
// unreachable; for MTA-STS "enforce" only the MX hosts the policy allows, with STARTTLS
// required and the certificate verified against the MX host name; for DANE the MX hosts
// mailtls validated, with STARTTLS required and the certificate checked against their
// TLSA records (lib/dane.js). See README.md in the mailtls repository ("Haraka") for what
// each answer does and the limits.

const { Resolver } = require('node:dns').promises
const constants = require('haraka-constants')

const { askPolicy } = require('./lib/client')
const { plan, NORMAL, DEFER, VERIFIED_TLS, DANE } = require('./lib/answer')
const mx = require('./lib/mx')
const capability = require('./lib/capability')
const dane = require('./lib/dane')
const tlsa = require('./lib/tlsa')
const settings = require('./lib/settings')

exports.register = function () {
    this.load_mailtls_ini()
    this.capability = capability.check((name) => this.haraka_require(name))
    const d = dane.check((name) => this.haraka_require(name))
    this.capability.dane = d.dane && this.capability.forceTLS
    this.capability.daneWhy = d.dane ? (this.capability.forceTLS ? d.why : this.capability.why) : d.why
    if (this.capability.dane) dane.hook(this.haraka_require('outbound/tls'))
    this.resolver = new Resolver({ timeout: 10000, tries: 2 })
    for (const line of this.startup_lines()) this.lognotice(line)
}

exports.load_mailtls_ini = function () {
    const ini = this.config.get('mailtls.ini', () => this.load_mailtls_ini())
    try {
        this.settings = settings.parse(ini.main)
        this.settings_error = null
        for (const w of this.settings.warnings) this.logwarn(`mailtls.ini: ${w}`)
    } catch (err) {
        this.settings = null
        this.settings_error = `mailtls.ini: ${err.message}`
        this.logerror(`${this.settings_error}; every message is deferred until it is fixed`)
    }
}

// startup_lines says what this plugin enforces with the running Haraka and what it cannot.
exports.startup_lines = function () {
    const c = this.capability
    const s = this.settings
    const lines = []
    if (s) {
        lines.push(
            `asks ${s.url}v1/policy/{domain}${s.profile ? `?profile=${s.profile}` : ''} (timeout ${s.timeout_ms} ms${s.token ? ', bearer token' : ''}) for every outbound domain`,
        )
    }
    lines.push(
        `Haraka ${c.version}: enforced per destination: defer on TEMP, PERM, unsupported answers and mailtls unreachable; MTA-STS enforce: only MX hosts matching the policy (get_mx hook)` +
            (c.forceTLS
                ? ', STARTTLS required and the certificate verified against the MX host name (this message\'s HMailItem gets its own get_force_tls)'
                : ''),
    )
    if (!c.forceTLS) {
        lines.push(`cannot force TLS per destination in this Haraka (${c.why}): every encrypt/verify/secure answer is deferred`)
    }
    if (c.dane) {
        lines.push(
            `DANE (dane, dane-only): only the MX hosts mailtls validated, STARTTLS required and the certificate checked against their DNSSEC-validated TLSA records from mailtls (RFC 7672: DANE-EE, DANE-TA; outbound/tls get_tls_options gets a checkServerIdentity); ` +
                'limit: Node runs that check only after the chain verified against Haraka\'s trust store (Node\'s roots plus NODE_EXTRA_CA_CERTS), so a DANE host whose chain is not publicly trusted is not used and its mail is deferred, never sent unverified',
        )
    } else {
        lines.push(`cannot check TLSA records in this Haraka (${c.daneWhy}): every dane and dane-only answer is deferred`)
    }
    lines.push(
        `not enforceable in Haraka ${c.version} without a core change: DANE for servers whose chain the trust store does not verify (deferred), certificate fingerprints (deferred), ` +
            'match= name patterns of non-MTA-STS secure/verify answers (the certificate is verified against the MX host name instead), encrypt without verification (verified instead), ' +
            'TLS off for none (Haraka stays opportunistic), a CA per destination (one trust store for all outbound TLS: Node\'s roots plus NODE_EXTRA_CA_CERTS)',
    )
    return lines
}

// hook_get_mx runs before Haraka looks up the MX hosts of hmail's domain, on every
// delivery attempt. It never lets an error through as CONT (Haraka would then deliver
// without the policy): every failure is a DENYSOFT.
exports.hook_get_mx = function (next, hmail, domain) {
    let done = false
    const reply = (code, msg) => {
        if (done) return
        done = true
        next(code, msg)
    }
    this.decide(hmail, domain).then(
        ([code, msg]) => reply(code, msg),
        (err) => {
            this.logerror(`${domain}: ${err && err.stack ? err.stack : err}`, logref(hmail))
            reply(constants.denysoft, `mailtls plugin error: ${err && err.message}`)
        },
    )
}

function logref(hmail) {
    return hmail && hmail.todo && hmail.todo.uuid ? { uuid: hmail.todo.uuid } : {}
}

// decide returns the [code, msg] pair for next().
exports.decide = async function (hmail, domain) {
    capability.unforce(hmail)
    if (hmail.notes) delete hmail.notes.mailtls
    const ref = logref(hmail)
    if (!this.settings) {
        this.logerror(`${domain}: deferred: ${this.settings_error}`, ref)
        return [constants.denysoft, `mailtls: ${this.settings_error}`]
    }
    let answer
    try {
        answer = await askPolicy(this.settings, domain)
    } catch (err) {
        this.logerror(`${domain}: deferred: mailtls unreachable or failed: ${err.message}`, ref)
        return [constants.denysoft, `mailtls unreachable or failed: ${err.message}`]
    }
    const p = plan(answer)
    if (hmail.notes) {
        hmail.notes.mailtls = { result: answer.result, level: answer.level, source: answer.source, action: p.action }
    }
    switch (p.action) {
        case NORMAL:
            this.loginfo(`${domain}: ${p.why}`, ref)
            return [constants.cont]
        case DEFER:
            this.lognotice(`${domain}: deferred: ${p.why}`, ref)
            return [constants.denysoft, `mailtls: ${p.why}`]
        case VERIFIED_TLS:
            return this.require_verified_tls(hmail, domain, p, ref)
        case DANE:
            return this.require_dane(hmail, domain, p, ref)
        default:
            this.logerror(`${domain}: deferred: unknown action ${p.action}`, ref)
            return [constants.denysoft, 'mailtls plugin error']
    }
}

exports.require_verified_tls = async function (hmail, domain, p, ref) {
    if (!this.capability.forceTLS) {
        const why = `${p.why}, but this Haraka cannot force TLS per destination (${this.capability.why})`
        this.lognotice(`${domain}: deferred: ${why}`, ref)
        return [constants.denysoft, `mailtls: ${why}`]
    }
    if (!p.patterns) {
        capability.force(hmail)
        this.loginfo(`${domain}: ${p.why}; MX hosts from Haraka's own lookup`, ref)
        return [constants.cont]
    }
    let records
    try {
        records = await mx.lookupMX(domain, this.resolver)
    } catch (err) {
        this.lognotice(`${domain}: deferred: MX lookup failed under an MTA-STS policy: ${err.code || err.message}`, ref)
        return [constants.denysoft, `mailtls: MX lookup for ${domain} failed: ${err.code || err.message}`]
    }
    const { keep, dropped } = mx.selectMX(records, p.patterns)
    if (dropped.length) {
        this.lognotice(`${domain}: MX hosts not allowed by the MTA-STS policy, never used: ${dropped.join(', ')}`, ref)
    }
    if (keep.length === 0) {
        this.lognotice(`${domain}: deferred: no MX host matches the MTA-STS policy (${p.patterns.join(', ')})`, ref)
        return [constants.denysoft, `mailtls: no MX host of ${domain} matches its MTA-STS policy`]
    }
    capability.force(hmail)
    const list = keep.map((r) => ({ exchange: r.exchange, priority: r.priority }))
    this.lognotice(`${domain}: ${p.why}: delivering to ${list.map((r) => `${r.exchange} (${r.priority})`).join(', ')}`, ref)
    return [constants.ok, list]
}

// require_dane delivers a dane or dane-only answer (RFC 7672 §2.2) to the MX hosts mailtls
// validated: those with usable TLSA records over forced TLS, their certificate checked
// against the records at STARTTLS (lib/dane.js); for "dane", hosts without TLSA records
// with Haraka's own (opportunistic) TLS, as Postfix does. Hosts whose lookups failed, or
// whose TLSA records are all unusable, are not used. No host left → deferred.
exports.require_dane = async function (hmail, domain, p, ref) {
    if (!this.capability.dane) {
        const why = `${p.why}, but this Haraka cannot check TLSA records (${this.capability.daneWhy})`
        this.lognotice(`${domain}: deferred: ${why}`, ref)
        return [constants.denysoft, `mailtls: ${why}`]
    }
    const log = (level, msg) => this[`log${level}`](`${domain}: ${msg}`, ref)
    const byName = new Map()
    const opportunistic = new Set()
    const list = []
    const skipped = []
    for (const h of p.hosts) {
        const name = mx.normalize(h.name)
        const records = Array.isArray(h.tlsa) ? h.tlsa.filter((r) => tlsa.usable(r)[0]) : []
        if (h.state === 'dane' && records.length > 0) {
            byName.set(name, dane.tlsaHost({ name, tlsa_base: h.tlsa_base, tlsa: records }, log))
            list.push({ exchange: name, priority: h.preference, how: `DANE, ${records.length} TLSA` })
        } else if (h.state === 'no-tlsa' && p.level === 'dane') {
            opportunistic.add(name)
            list.push({ exchange: name, priority: h.preference, how: 'no TLSA: opportunistic TLS' })
        } else {
            skipped.push(`${name} (${h.state === 'dane' ? 'no usable TLSA record' : h.state})`)
        }
    }
    if (skipped.length) this.lognotice(`${domain}: DANE MX hosts not used: ${skipped.join(', ')}`, ref)
    if (list.length === 0) {
        this.lognotice(`${domain}: deferred: ${p.why}, but no MX host with usable TLSA records (RFC 7672 §2.2, §3.1.3)`, ref)
        return [constants.denysoft, `mailtls: no usable DANE MX host for ${domain}`]
    }
    const sorted = mx.sortByPreference(list)
    capability.force(hmail, dane.forceTLS(byName, opportunistic, log))
    this.lognotice(`${domain}: ${p.why}: delivering to ${sorted.map((r) => `${r.exchange} (${r.priority}, ${r.how})`).join(', ')}`, ref)
    return [constants.ok, sorted.map((r) => ({ exchange: r.exchange, priority: r.priority }))]
}
