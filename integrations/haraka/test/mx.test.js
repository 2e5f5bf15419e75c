'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const dns = require('node:dns')

const mx = require('../lib/mx')

test('matchesPattern follows RFC 8461 §4.1', () => {
    const cases = [
        ['mx1.example.com', 'mx1.example.com', true],
        ['MX1.Example.COM.', 'mx1.example.com', true],
        ['mx1.example.com', 'MX1.EXAMPLE.COM.', true],
        ['mx1.example.com', 'mx2.example.com', false],
        ['mail.example.net', '*.example.net', true],
        ['a.mail.example.net', '*.example.net', false], // one label only
        ['example.net', '*.example.net', false],
        ['.example.net', '*.example.net', false],
        ['mx.example.net.evil', '*.example.net', false],
        ['evilexample.net', '*.example.net', false],
        ['mx1.example.com.evil', 'mx1.example.com', false],
        ['x.example.com', '*.', false],
        ['', 'mx1.example.com', false],
        ['mx1.example.com', '', false],
        ['*.example.net', '*.example.net', true], // a literal "*" label is one label
    ]
    for (const [host, pattern, want] of cases) {
        assert.equal(mx.matchesPattern(host, pattern), want, `${host} vs ${pattern}`)
    }
})

test('selectMX keeps only allowed hosts, in preference order, and names the rest', () => {
    const records = [
        { exchange: 'backup.evil.example', priority: 5 },
        { exchange: 'mx2.example.com', priority: 20 },
        { exchange: 'a.mail.example.net', priority: 1 },
        { exchange: 'mx1.example.com', priority: 10 },
        { exchange: 'b.mail.example.net', priority: 30 },
        { exchange: '', priority: 0 },
    ]
    const { keep, dropped } = mx.selectMX(records, ['mx1.example.com', 'mx2.example.com', '*.mail.example.net'])
    assert.deepEqual(
        keep.map((r) => r.exchange),
        ['a.mail.example.net', 'mx1.example.com', 'mx2.example.com', 'b.mail.example.net'],
    )
    assert.deepEqual(dropped, ['backup.evil.example', '.'])
    const none = mx.selectMX(records, ['other.example'])
    assert.equal(none.keep.length, 0)
    assert.equal(none.dropped.length, records.length)
})

test('sortByPreference shuffles equal preferences only', () => {
    const records = [
        { exchange: 'b', priority: 10 },
        { exchange: 'a', priority: 10 },
        { exchange: 'z', priority: 0 },
    ]
    const seq = (values) => () => values.shift()
    assert.deepEqual(
        mx.sortByPreference(records, seq([0.9, 0.1, 0.5])).map((r) => r.exchange),
        ['z', 'a', 'b'],
    )
    assert.deepEqual(
        mx.sortByPreference(records, seq([0.1, 0.9, 0.5])).map((r) => r.exchange),
        ['z', 'b', 'a'],
    )
})

test('lookupMX: MX records, the implicit MX, and errors', async () => {
    const ok = { resolveMx: async () => [{ exchange: 'MX.Example.com.', priority: 7 }] }
    assert.deepEqual(await mx.lookupMX('example.com', ok), [{ exchange: 'mx.example.com', priority: 7 }])

    const nodata = {
        resolveMx: async () => {
            throw Object.assign(new Error('no data'), { code: dns.NODATA })
        },
    }
    assert.deepEqual(await mx.lookupMX('Example.com', nodata), [
        { exchange: 'example.com', priority: 0, implicit: true },
    ])

    for (const code of [dns.NOTFOUND, dns.SERVFAIL, dns.TIMEOUT, dns.REFUSED]) {
        const failing = {
            resolveMx: async () => {
                throw Object.assign(new Error(code), { code })
            },
        }
        await assert.rejects(mx.lookupMX('example.com', failing), (err) => err.code === code)
    }
})
