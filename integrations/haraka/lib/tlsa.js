'use strict'
// DANE authentication of an SMTP server's certificate chain against TLSA records
// (RFC 7672 §3.1, RFC 6698 §2.1, RFC 7671 §5): the records come from mailtls, which
// validated them with DNSSEC; the chain is Node's peer certificate
// (tlsSocket.getPeerCertificate(true): .raw DER, .issuerCertificate up to the root).

const crypto = require('node:crypto')
const tls = require('node:tls')

const USAGE_DANE_TA = 2
const USAGE_DANE_EE = 3
const MAX_CHAIN = 16 // longer chains are not walked further

// usable reports whether one record may be used by an SMTP client (RFC 7672 §3.1.3: usages
// 0 and 1 are not; RFC 6698 §2.1: known selector and matching type, digest lengths right),
// and why not.
function usable(r) {
    if (!r || typeof r !== 'object') return [false, 'not a record']
    if (r.usage !== USAGE_DANE_TA && r.usage !== USAGE_DANE_EE) {
        return [false, `usage ${r.usage} unusable for SMTP (RFC 7672 §3.1.3)`]
    }
    if (r.selector !== 0 && r.selector !== 1) return [false, `selector ${r.selector} unknown`]
    if (typeof r.data !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(r.data)) return [false, 'data is not hex']
    const n = r.data.length / 2
    switch (r.matching_type) {
        case 0:
            break
        case 1:
            if (n !== 32) return [false, `SHA2-256 data of ${n} octets`]
            break
        case 2:
            if (n !== 64) return [false, `SHA2-512 data of ${n} octets`]
            break
        default:
            return [false, `matching type ${r.matching_type} unknown`]
    }
    return [true, '']
}

// derElement reads the DER element at off: {tag, start (of the contents), end}. Throws on
// malformed input.
function derElement(buf, off) {
    if (off + 2 > buf.length) throw new Error('DER: truncated')
    const tag = buf[off]
    let len = buf[off + 1]
    let start = off + 2
    if (len & 0x80) {
        const k = len & 0x7f
        if (k === 0 || k > 4 || start + k > buf.length) throw new Error('DER: bad length')
        len = 0
        for (let i = 0; i < k; i++) len = len * 256 + buf[start + i]
        start += k
    }
    const end = start + len
    if (end > buf.length) throw new Error('DER: truncated')
    return { tag, off, start, end }
}

// spkiOf returns the DER SubjectPublicKeyInfo of a DER certificate, the exact bytes the
// certificate holds (RFC 5280 §4.1: Certificate → TBSCertificate → [0] version,
// serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo).
function spkiOf(der) {
    const cert = derElement(der, 0)
    const tbs = derElement(der, cert.start)
    let e = derElement(der, tbs.start)
    if (e.tag === 0xa0) e = derElement(der, e.end) // explicit version
    for (let i = 0; i < 5; i++) e = derElement(der, e.end) // serial … subject → SPKI
    if (e.tag !== 0x30) throw new Error('DER: no SubjectPublicKeyInfo')
    return der.subarray(e.off, e.end)
}

// selected returns the bytes a record's selector names (RFC 6698 §2.1.2).
function selected(der, selector) {
    return selector === 0 ? der : spkiOf(der)
}

// matches reports whether record r matches the DER certificate der (RFC 6698 §2.1.3).
function matches(r, der) {
    const data = selected(der, r.selector)
    const want = Buffer.from(r.data, 'hex')
    switch (r.matching_type) {
        case 0:
            return data.equals(want)
        case 1:
            return crypto.createHash('sha256').update(data).digest().equals(want)
        case 2:
            return crypto.createHash('sha512').update(data).digest().equals(want)
    }
    return false
}

// chainOf lists the certificates of Node's detailed peer certificate, leaf first (the
// root's issuerCertificate is itself).
function chainOf(peer) {
    const chain = []
    for (let c = peer; c && c.raw && chain.length < MAX_CHAIN; c = c.issuerCertificate) {
        if (chain.includes(c) || (chain.length && chain[chain.length - 1].raw.equals(c.raw))) break
        chain.push(c)
    }
    return chain
}

// describe renders a record for logs: "3 1 1 0123456789ab…".
function describe(r) {
    const d = String(r.data)
    return `${r.usage} ${r.selector} ${r.matching_type} ${d.length > 16 ? `${d.slice(0, 16)}…` : d}`
}

// verify checks peer (Node's detailed peer certificate) against records for an MX host
// whose reference identifiers are names (the MX host name and its TLSA base domain,
// RFC 7672 §3.2.2). It returns {ok: true, record, depth, why} or {ok: false, why}.
//   - DANE-EE (3): the leaf matches; no name or expiry check (RFC 7672 §3.1.1).
//   - DANE-TA (2): a certificate of the chain matches, and the leaf's names match one of
//     names (RFC 7672 §3.1.2, §3.2.2).
function verify(records, peer, names) {
    const use = (Array.isArray(records) ? records : []).filter((r) => usable(r)[0])
    if (use.length === 0) return { ok: false, why: 'no usable TLSA record' }
    const chain = chainOf(peer)
    if (chain.length === 0) return { ok: false, why: 'no peer certificate' }
    let nameFailure = null
    try {
        for (const r of use.filter((r) => r.usage === USAGE_DANE_EE)) {
            if (matches(r, chain[0].raw)) {
                return { ok: true, record: r, depth: 0, why: `TLSA ${describe(r)} matches the server certificate (DANE-EE, RFC 7672 §3.1.1: no name check)` }
            }
        }
        for (const r of use.filter((r) => r.usage === USAGE_DANE_TA)) {
            for (let depth = 0; depth < chain.length; depth++) {
                if (!matches(r, chain[depth].raw)) continue
                const name = names.find((n) => n && tls.checkServerIdentity(n, chain[0]) === undefined)
                if (name) {
                    return { ok: true, record: r, depth, why: `TLSA ${describe(r)} matches the chain at depth ${depth} (DANE-TA, RFC 7672 §3.1.2), certificate valid for ${name}` }
                }
                nameFailure = `TLSA ${describe(r)} matches the chain at depth ${depth}, but the certificate is not valid for ${names.filter(Boolean).join(' or ')} (RFC 7672 §3.2.2)`
            }
        }
    } catch (err) {
        return { ok: false, why: `cannot read the server certificate: ${err.message}` }
    }
    return { ok: false, why: nameFailure || `none of ${use.length} usable TLSA record(s) matches the certificate chain (${use.map(describe).join(', ')})` }
}

module.exports = { verify, usable, spkiOf, matches, chainOf, describe }
