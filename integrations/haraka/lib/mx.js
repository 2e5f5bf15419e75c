'use strict'
// MX hosts under an MTA-STS policy: which names a policy's "mx" patterns allow
// (RFC 8461 §4.1) and the MX set the plugin hands to Haraka in place of its own lookup.

const dns = require('node:dns')

// normalize lower-cases a host name and drops one trailing dot.
function normalize(name) {
    return String(name ?? '')
        .trim()
        .toLowerCase()
        .replace(/\.$/, '')
}

// matchesPattern reports whether host matches one policy "mx" pattern (RFC 8461 §4.1):
// an exact name, or "*.rest", where "*" stands for exactly one leftmost label (so
// "*.example.com" matches "mx.example.com", not "example.com" nor "a.mx.example.com").
function matchesPattern(host, pattern) {
    const h = normalize(host)
    const p = normalize(pattern)
    if (h === '' || p === '') return false
    if (!p.startsWith('*.')) return h === p
    const dot = h.indexOf('.')
    if (dot <= 0) return false
    return h.slice(dot + 1) === p.slice(2) && p.slice(2) !== ''
}

// allowed reports whether host matches any of the patterns.
function allowed(host, patterns) {
    return patterns.some((p) => matchesPattern(host, p))
}

// sortByPreference orders MX records by preference (RFC 5321 §5.1), lower first, with
// records of equal preference shuffled (random is injectable for tests).
function sortByPreference(mxs, random = Math.random) {
    const shuffled = mxs.map((mx) => ({ mx, key: random() }))
    shuffled.sort((a, b) => a.mx.priority - b.mx.priority || a.key - b.key)
    return shuffled.map((s) => s.mx)
}

// lookupMX resolves the MX set of domain as RFC 5321 §5.1 says: the MX records, or the
// domain itself as the one host when it has none (ENODATA). Any other failure throws.
async function lookupMX(domain, resolver) {
    try {
        const records = await resolver.resolveMx(domain)
        return records.map((r) => ({ exchange: normalize(r.exchange), priority: r.priority }))
    } catch (err) {
        if (err && err.code === dns.NODATA) return [{ exchange: normalize(domain), priority: 0, implicit: true }]
        throw err
    }
}

// selectMX returns the MX hosts of records that the policy patterns allow, in preference
// order, and the names it left out. A null MX (RFC 7505, exchange "") never matches.
function selectMX(records, patterns, random) {
    const keep = []
    const dropped = []
    for (const r of records) {
        if (r.exchange !== '' && allowed(r.exchange, patterns)) keep.push(r)
        else dropped.push(r.exchange === '' ? '.' : r.exchange)
    }
    return { keep: sortByPreference(keep, random), dropped }
}

module.exports = { normalize, matchesPattern, allowed, sortByPreference, lookupMX, selectMX }
