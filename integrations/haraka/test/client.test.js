'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')

const { askPolicy, policyURL, MAX_BODY } = require('../lib/client')
const { apiServer, json, closedPort } = require('./helpers')

const decision = { next_hop: 'example.com', domain: 'example.com', profile: 'haraka', result: 'NOTFOUND', source: 'mta-sts', reasons: [], cache_hit: false, postfix_reply: 'NOTFOUND ' }

test('policyURL escapes the domain and adds the profile', () => {
    assert.equal(policyURL('http://127.0.0.1:8462', 'example.com', '').href, 'http://127.0.0.1:8462/v1/policy/example.com')
    assert.equal(policyURL('http://127.0.0.1:8462/', 'a/b?c', 'p x').href, 'http://127.0.0.1:8462/v1/policy/a%2Fb%3Fc?profile=p+x')
    assert.equal(policyURL('https://h/api/', 'x.example', 'haraka').href, 'https://h/api/v1/policy/x.example?profile=haraka')
})

test('a 200 answer is returned; token and profile are sent', async (t) => {
    const api = await apiServer(json(200, decision))
    t.after(api.close)
    const got = await askPolicy({ url: api.url, profile: 'haraka', token: 's3cret', timeout_ms: 2000 }, 'example.com')
    assert.deepEqual(got, decision)
    assert.deepEqual(api.requests, [{ url: '/v1/policy/example.com?profile=haraka', authorization: 'Bearer s3cret' }])
    await askPolicy({ url: api.url, profile: '', token: '', timeout_ms: 2000 }, 'example.com')
    assert.deepEqual(api.requests[1], { url: '/v1/policy/example.com', authorization: undefined })
})

test('every failure is an error that says why', async (t) => {
    const api = await apiServer(json(200, decision))
    t.after(api.close)
    const s = { url: api.url, profile: '', token: '', timeout_ms: 300 }
    const cases = [
        [json(401, { status: 401, error: 'missing or wrong bearer token' }), /HTTP 401 .*: missing or wrong bearer token/],
        [json(404, { status: 404, error: 'unknown profile "x"' }), /HTTP 404 .*unknown profile/],
        [json(500, { status: 500, error: 'decision failed' }), /HTTP 500/],
        [(req, res) => res.end('<html>oops</html>'), /not JSON/],
        [json(200, { result: 'MAYBE' }), /no valid "result"/],
        [json(200, ['OK']), /no valid "result"/],
        [json(200, null), /no valid "result"/],
        [(req, res) => res.end('x'.repeat(MAX_BODY + 10)), /larger than/],
        [(req, res) => res.writeHead(302, { Location: 'http://127.0.0.1:1/' }).end(), /cannot ask/],
        [() => {}, /no answer from .* within 300 ms/], // never answers
        [(req, res) => req.socket.destroy(), /cannot ask/],
    ]
    for (const [handler, re] of cases) {
        api.handler = handler
        await assert.rejects(askPolicy(s, 'example.com'), (err) => re.test(err.message), String(re))
    }
})

test('mailtls not listening is an error', async () => {
    const port = await closedPort()
    await assert.rejects(
        askPolicy({ url: `http://127.0.0.1:${port}`, profile: '', token: '', timeout_ms: 2000 }, 'example.com'),
        (err) => /cannot ask http:\/\/127\.0\.0\.1:\d+: fetch failed: ECONNREFUSED/.test(err.message),
    )
})
