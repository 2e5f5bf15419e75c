'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')

const { parse } = require('../lib/settings')

test('defaults', () => {
    const s = parse({})
    assert.equal(s.url, 'http://127.0.0.1:8462/')
    assert.equal(s.timeout_ms, 5000)
    assert.equal(s.profile, '')
    assert.equal(s.token, '')
    assert.deepEqual(s.warnings, [])
})

test('valid settings', () => {
    const s = parse({ url: 'https://mailtls.internal:8462/api/', profile: 'haraka', token: 'abc', timeout: '2.5' })
    assert.equal(s.url, 'https://mailtls.internal:8462/api/')
    assert.equal(s.profile, 'haraka')
    assert.equal(s.token, 'abc')
    assert.equal(s.timeout_ms, 2500)
    const f = parse({ token_file: '/etc/t' }, (name) => (name === '/etc/t' ? 'secret\n' : ''))
    assert.equal(f.token, 'secret')
})

test('a token in clear text off loopback is warned about', () => {
    assert.deepEqual(parse({ url: 'http://[::1]:8462', token: 'x' }).warnings, [])
    assert.deepEqual(parse({ url: 'http://localhost:8462', token: 'x' }).warnings, [])
    assert.equal(parse({ url: 'http://192.0.2.1:8462', token: 'x' }).warnings.length, 1)
    assert.equal(parse({ url: 'http://192.0.2.1:8462' }).warnings.length, 0)
})

test('bad settings are errors naming the setting', () => {
    const bad = [
        [{ url: 'not a url' }, /^url=/],
        [{ url: 'ftp://127.0.0.1/' }, /^url=.*not http/],
        [{ url: 'http://127.0.0.1:8462/?x=1' }, /^url=/],
        [{ url: 'http://u:p@127.0.0.1:8462/' }, /^url=/],
        [{ timeout: '0' }, /^timeout=/],
        [{ timeout: '-1' }, /^timeout=/],
        [{ timeout: 'soon' }, /^timeout=/],
        [{ timeout: '500' }, /^timeout=/],
        [{ profile: 'a b' }, /^profile=/],
        [{ token: 'a', token_file: '/x' }, /both/],
        [{ token: 'a b' }, /white space/],
    ]
    for (const [main, re] of bad) assert.throws(() => parse(main), (err) => re.test(err.message), JSON.stringify(main))
    assert.throws(
        () =>
            parse({ token_file: '/nope' }, () => {
                throw new Error('ENOENT')
            }),
        (err) => /^token_file=\/nope: ENOENT/.test(err.message),
    )
    assert.throws(() => parse({ token_file: '/empty' }, () => '  \n'), /empty/)
})
