'use strict'
// What a mailtls decision asks of Haraka's outbound delivery for one recipient domain.
// Haraka 3.3.4 can, per destination, only (a) choose the MX hosts (get_mx hook) and
// (b) require STARTTLS with a verified certificate (its "forced TLS"): against the MX host
// name, or, with the plugin's check at STARTTLS (lib/dane.js), against the host's TLSA
// records. Every answer that needs more is deferred, never weakened.

// Actions.
const NORMAL = 'normal' // Haraka's own MX lookup and opportunistic TLS
const DEFER = 'defer' // temporary failure: the message stays queued
const VERIFIED_TLS = 'verified-tls' // forced TLS; MX hosts limited to `patterns` when set
const DANE = 'dane' // mailtls's MX hosts; TLSA-verified TLS to those with records (RFC 7672)

// plan maps a decision (the JSON of GET /v1/policy/{domain}) to {action, why, patterns}.
function plan(d) {
    const src = d.source ? ` (${d.source})` : ''
    switch (d.result) {
        case 'NOTFOUND':
            return { action: NORMAL, why: `NOTFOUND${src}: no policy, Haraka's own behaviour` }
        case 'TEMP':
            return { action: DEFER, why: `TEMP${src}: ${d.message || 'facts unknown'}` }
        case 'PERM':
            return { action: DEFER, why: `PERM${src}: ${d.message || 'bad request'}` }
        case 'OK':
            break
        default:
            return { action: DEFER, why: `unknown result ${JSON.stringify(d.result)}` }
    }
    const level = d.level
    switch (level) {
        case 'none':
        case 'may':
            return { action: NORMAL, why: `OK ${level}${src}: Haraka's own behaviour (opportunistic TLS)` }
        case 'encrypt':
        case 'verify':
        case 'secure':
            break
        case 'dane':
        case 'dane-only':
            return planDANE(d, level, src)
        case 'fingerprint':
            return { action: DEFER, why: `OK fingerprint${src}: Haraka cannot pin certificate fingerprints` }
        default:
            return { action: DEFER, why: `OK with unknown level ${JSON.stringify(level)}${src}` }
    }
    if (d.source !== 'mta-sts') {
        return { action: VERIFIED_TLS, patterns: null, why: `OK ${level}${src}: TLS verified against the MX host name` }
    }
    // RFC 8461 §5: only MX hosts matching the policy, over TLS with a certificate valid for
    // the MX host name (§4.2).
    const sts = d.mta_sts
    if (!sts || sts.mode !== 'enforce' || !Array.isArray(sts.mx) || sts.mx.length === 0) {
        return { action: DEFER, why: `OK ${level}${src} without an enforce policy and its mx patterns` }
    }
    const patterns = sts.mx.filter((p) => typeof p === 'string' && p !== '')
    if (patterns.length !== sts.mx.length) {
        return { action: DEFER, why: `OK ${level}${src} with a malformed mx pattern` }
    }
    return {
        action: VERIFIED_TLS,
        patterns,
        why: `OK ${level}${src} policy ${sts.id || '?'}: only MX hosts matching ${patterns.join(', ')}, TLS verified against the MX host name`,
    }
}

// planDANE checks the "dane" member of a dane or dane-only answer: the MX hosts mailtls
// validated (RFC 7672 §2.2) with the usable records of their TLSA RRsets. Without it (an
// answer from an operator rule, or a mailtls that does not send it) there is nothing to
// verify against, so the message is deferred.
function planDANE(d, level, src) {
    const info = d.dane
    if (!info || typeof info !== 'object' || !Array.isArray(info.hosts)) {
        return { action: DEFER, why: `OK ${level}${src} without the DANE MX hosts and TLSA records the plugin verifies against` }
    }
    for (const h of info.hosts) {
        if (!h || typeof h.name !== 'string' || h.name === '' || typeof h.state !== 'string' || !Number.isInteger(h.preference)) {
            return { action: DEFER, why: `OK ${level}${src} with a malformed DANE host` }
        }
        if (h.tlsa !== undefined && !Array.isArray(h.tlsa)) return { action: DEFER, why: `OK ${level}${src} with malformed TLSA records` }
    }
    return {
        action: DANE,
        level,
        hosts: info.hosts,
        mxSecure: info.mx_secure === true,
        why: `OK ${level}${src}: TLSA records of ${info.hosts.length} MX host(s) from mailtls (DNSSEC-validated)`,
    }
}

module.exports = { plan, NORMAL, DEFER, VERIFIED_TLS, DANE }
