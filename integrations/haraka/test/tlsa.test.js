'use strict'
// lib/tlsa.js on real certificates made for this run (test/certs.js): every usable usage,
// selector and matching type, mismatches, unusable records, and the DANE-TA name check.
const test = require('node:test')
const assert = require('node:assert/strict')

const certs = require('./certs')
const { verify, usable, spkiOf } = require('../lib/tlsa')

const c = certs.make(['mx.example.test'], 'self.example.test')
test.after(() => certs.remove(c))

let chain // Node's peer certificate of leaf + CA, as a client trusting the CA sees it
let self // Node's peer certificate of the self-signed server
test.before(async () => {
    chain = await certs.peerChain({ key: c.leaf.key, cert: Buffer.concat([c.leaf.pem, c.ca.pem]), ca: c.ca.pem, servername: 'mx.example.test' })
    self = await certs.peerChain({ key: c.self.key, cert: c.self.pem, ca: c.self.pem, servername: 'self.example.test' })
})

const names = ['mx.example.test']

test("the SubjectPublicKeyInfo read from the certificate is openssl's", () => {
    for (const k of ['ca', 'leaf', 'self']) assert.ok(spkiOf(c[k].der).equals(c[k].spki), k)
    assert.ok(chain.raw.equals(c.leaf.der) && chain.issuerCertificate.raw.equals(c.ca.der), 'the chain Node gives is leaf, CA')
})

test('DANE-EE (3): the leaf matches with every selector and matching type, no name check', () => {
    for (const selector of [0, 1]) {
        for (const mt of [0, 1, 2]) {
            const r = certs.record(3, selector, mt, c.leaf)
            const got = verify([r], chain, names)
            assert.equal(got.ok, true, `3 ${selector} ${mt}: ${got.why}`)
            assert.equal(got.depth, 0)
            assert.match(got.why, /DANE-EE/)
            // RFC 7672 §3.1.1: the names of the certificate do not matter.
            assert.equal(verify([r], chain, ['elsewhere.test']).ok, true, `3 ${selector} ${mt} with another name`)
        }
    }
    // A self-signed certificate no CA vouches for is authenticated by its record alone.
    assert.equal(verify([certs.record(3, 1, 1, c.self)], self, ['mx.other.test']).ok, true)
})

test('DANE-EE (3) of the CA does not authenticate the leaf', () => {
    for (const selector of [0, 1]) {
        const got = verify([certs.record(3, selector, 1, c.ca)], chain, names)
        assert.equal(got.ok, false)
        assert.match(got.why, /none of 1 usable TLSA record\(s\) matches/)
    }
})

test('DANE-TA (2): a chain certificate matches with every selector and matching type, and the name is checked', () => {
    for (const selector of [0, 1]) {
        for (const mt of [0, 1, 2]) {
            const r = certs.record(2, selector, mt, c.ca)
            const got = verify([r], chain, names)
            assert.equal(got.ok, true, `2 ${selector} ${mt}: ${got.why}`)
            assert.equal(got.depth, 1)
            assert.match(got.why, /DANE-TA.*valid for mx\.example\.test/)
            // RFC 7672 §3.2.2: the leaf must be valid for the MX host name or TLSA base.
            const wrong = verify([r], chain, ['mx.other.test'])
            assert.equal(wrong.ok, false)
            assert.match(wrong.why, /not valid for mx\.other\.test/)
            // The TLSA base domain (after a CNAME) is a reference identifier too.
            assert.equal(verify([r], chain, ['alias.other.test', 'mx.example.test']).ok, true)
        }
    }
})

test('a record of another key or a damaged digest matches nothing', () => {
    const other = certs.record(3, 1, 1, c.self)
    const flipped = certs.record(3, 1, 1, c.leaf)
    flipped.data = (flipped.data[0] === '0' ? '1' : '0') + flipped.data.slice(1)
    for (const recs of [[other], [flipped], [certs.record(2, 1, 2, c.self)], [other, certs.record(2, 0, 1, c.self)]]) {
        const got = verify(recs, chain, names)
        assert.equal(got.ok, false, JSON.stringify(recs))
        assert.match(got.why, /matches the certificate chain/)
    }
    // One matching record among others is enough.
    assert.equal(verify([other, flipped, certs.record(3, 1, 2, c.leaf)], chain, names).ok, true)
})

test('PKIX usages (0, 1), unknown parameters and malformed data are unusable: nothing to verify against', () => {
    const good = certs.record(3, 1, 1, c.leaf)
    const bad = [
        { ...certs.record(0, 1, 1, c.ca) },
        { ...certs.record(1, 1, 1, c.leaf) },
        { ...good, selector: 2 },
        { ...good, matching_type: 3 },
        { ...good, data: good.data.slice(2) }, // 31 octets for SHA2-256
        { ...certs.record(3, 1, 2, c.leaf), data: good.data }, // 32 octets for SHA2-512
        { ...good, data: 'zz' },
        { ...good, data: '' },
        null,
    ]
    for (const r of bad) {
        assert.equal(usable(r)[0], false, JSON.stringify(r))
        const got = verify([r], chain, names)
        assert.equal(got.ok, false)
        assert.equal(got.why, 'no usable TLSA record')
    }
    assert.equal(verify([], chain, names).why, 'no usable TLSA record')
    assert.equal(verify(undefined, chain, names).why, 'no usable TLSA record')
    // Unusable records next to a usable one are ignored (RFC 7672 §3.1.3).
    assert.equal(verify([...bad, good], chain, names).ok, true)
})

test('a peer without a certificate, or with a damaged one, fails', () => {
    assert.equal(verify([certs.record(3, 1, 1, c.leaf)], {}, names).ok, false)
    const damaged = { raw: c.leaf.der.subarray(0, 40) }
    const got = verify([certs.record(3, 1, 1, c.leaf)], damaged, names)
    assert.equal(got.ok, false)
    assert.match(got.why, /cannot read the server certificate/)
})
