'use strict'
// The HTTP client of mailtls's policy API: GET /v1/policy/{domain}?profile=NAME
// (httpapi/openapi.yaml in the mailtls repository), with a bearer token (RFC 6750) and a
// deadline. Anything but a well-formed 200 answer is an error: the caller defers the mail.

const MAX_BODY = 1 << 20 // a decision is a few KiB; more is not a mailtls answer

const RESULTS = new Set(['OK', 'NOTFOUND', 'TEMP', 'PERM'])

// policyURL is the request URL for domain under base (e.g. http://127.0.0.1:8462).
function policyURL(base, domain, profile) {
    const u = new URL(`v1/policy/${encodeURIComponent(domain)}`, base.endsWith('/') ? base : `${base}/`)
    if (profile) u.searchParams.set('profile', profile)
    return u
}

// readLimited reads a response body of at most max bytes.
async function readLimited(res, max) {
    const chunks = []
    let size = 0
    for await (const chunk of res.body ?? []) {
        size += chunk.length
        if (size > max) throw new Error(`answer larger than ${max} bytes`)
        chunks.push(chunk)
    }
    return Buffer.concat(chunks).toString('utf8')
}

// askPolicy returns mailtls's decision for domain, or throws an Error saying why there is
// none (unreachable, timeout, HTTP error status, malformed answer).
async function askPolicy(settings, domain, fetchImpl = fetch) {
    const url = policyURL(settings.url, domain, settings.profile)
    const headers = { Accept: 'application/json' }
    if (settings.token) headers.Authorization = `Bearer ${settings.token}`
    const signal = AbortSignal.timeout(settings.timeout_ms)
    let res
    let text
    try {
        res = await fetchImpl(url, { headers, signal, redirect: 'error' })
        text = await readLimited(res, MAX_BODY)
    } catch (err) {
        if (err && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
            throw new Error(`no answer from ${url.origin} within ${settings.timeout_ms} ms`)
        }
        const cause = err && err.cause ? `: ${err.cause.code || err.cause.message}` : ''
        throw new Error(`cannot ask ${url.origin}: ${err && err.message}${cause}`)
    }
    let body
    try {
        body = JSON.parse(text)
    } catch {
        throw new Error(`HTTP ${res.status} from ${url.origin} with a body that is not JSON`)
    }
    if (res.status !== 200) {
        const detail = body && typeof body.error === 'string' ? body.error : 'no error text'
        throw new Error(`HTTP ${res.status} from ${url.origin}: ${detail}`)
    }
    if (!body || typeof body !== 'object' || Array.isArray(body) || !RESULTS.has(body.result)) {
        throw new Error(`answer from ${url.origin} has no valid "result"`)
    }
    return body
}

module.exports = { askPolicy, policyURL, MAX_BODY }
