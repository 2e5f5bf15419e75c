'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')

const { plan, NORMAL, DEFER, VERIFIED_TLS, DANE } = require('../lib/answer')

const daneHosts = [{ name: 'mx.d.test', preference: 10, state: 'dane', tlsa: [{ usage: 3, selector: 1, matching_type: 1, data: 'ab'.repeat(32) }] }]
const sts = { domain: 'sts.example', id: '20260101', mode: 'enforce', max_age: 86400, mx: ['mx1.sts.example', '*.mail.sts.example'], lines: [] }

test('every decision maps to defer, normal, verified TLS or DANE', () => {
    const cases = [
        [{ result: 'NOTFOUND', source: 'mta-sts' }, NORMAL, null],
        [{ result: 'TEMP', source: 'dane', message: 'MX lookup SERVFAIL' }, DEFER, null],
        [{ result: 'PERM', source: 'input', message: 'unknown profile' }, DEFER, null],
        [{ result: 'WHAT' }, DEFER, null],
        [{}, DEFER, null],
        [{ result: 'OK', level: 'none', source: 'override' }, NORMAL, null],
        [{ result: 'OK', level: 'may', source: 'default' }, NORMAL, null],
        [{ result: 'OK', level: 'encrypt', source: 'override' }, VERIFIED_TLS, null],
        [{ result: 'OK', level: 'verify', source: 'asn' }, VERIFIED_TLS, null],
        [{ result: 'OK', level: 'secure', source: 'override', match: ['.example.com'] }, VERIFIED_TLS, null],
        [{ result: 'OK', level: 'secure', source: 'mta-sts', match: ['mx1.sts.example', '.mail.sts.example'], mta_sts: sts }, VERIFIED_TLS, sts.mx],
        // DANE needs the hosts and TLSA records mailtls validated ("dane" member).
        [{ result: 'OK', level: 'dane', source: 'dane' }, DEFER, null],
        [{ result: 'OK', level: 'dane-only', source: 'dane' }, DEFER, null],
        [{ result: 'OK', level: 'dane-only', source: 'override' }, DEFER, null],
        [{ result: 'OK', level: 'dane-only', source: 'dane', dane: { mx_secure: true, no_mx: false, hosts: daneHosts } }, DANE, null],
        [{ result: 'OK', level: 'dane', source: 'dane', dane: { mx_secure: false, no_mx: false, hosts: daneHosts } }, DANE, null],
        [{ result: 'OK', level: 'dane-only', source: 'dane', dane: { hosts: 'x' } }, DEFER, null],
        [{ result: 'OK', level: 'dane-only', source: 'dane', dane: { hosts: [{ name: 'mx.d.test' }] } }, DEFER, null],
        [{ result: 'OK', level: 'dane-only', source: 'dane', dane: { hosts: [{ ...daneHosts[0], tlsa: 'x' }] } }, DEFER, null],
        [{ result: 'OK', level: 'fingerprint', source: 'override', match: ['AA:BB'] }, DEFER, null],
        [{ result: 'OK', level: 'bogus', source: 'override' }, DEFER, null],
        [{ result: 'OK', source: 'override' }, DEFER, null],
        // An MTA-STS answer without a usable enforce policy is not guessed at.
        [{ result: 'OK', level: 'secure', source: 'mta-sts' }, DEFER, null],
        [{ result: 'OK', level: 'secure', source: 'mta-sts', mta_sts: { ...sts, mode: 'testing' } }, DEFER, null],
        [{ result: 'OK', level: 'secure', source: 'mta-sts', mta_sts: { ...sts, mx: [] } }, DEFER, null],
        [{ result: 'OK', level: 'secure', source: 'mta-sts', mta_sts: { ...sts, mx: ['ok.example', ''] } }, DEFER, null],
        [{ result: 'OK', level: 'secure', source: 'mta-sts', mta_sts: { ...sts, mx: [7] } }, DEFER, null],
    ]
    for (const [d, action, patterns] of cases) {
        const p = plan(d)
        assert.equal(p.action, action, JSON.stringify(d))
        assert.deepEqual(p.patterns ?? null, patterns, JSON.stringify(d))
        assert.ok(p.why.length > 0)
    }
})

test('the reason names what mailtls said', () => {
    assert.match(plan({ result: 'TEMP', source: 'mta-sts', message: 'policy fetch failed' }).why, /^TEMP \(mta-sts\): policy fetch failed$/)
    assert.match(plan({ result: 'OK', level: 'dane-only', source: 'dane' }).why, /dane-only \(dane\) without the DANE MX hosts and TLSA records/)
    assert.match(plan({ result: 'OK', level: 'dane-only', source: 'dane', dane: { hosts: daneHosts } }).why, /dane-only \(dane\): TLSA records of 1 MX host\(s\) from mailtls/)
    assert.match(
        plan({ result: 'OK', level: 'secure', source: 'mta-sts', mta_sts: sts }).why,
        /policy 20260101: only MX hosts matching mx1\.sts\.example, \*\.mail\.sts\.example, TLS verified against the MX host name/,
    )
})
