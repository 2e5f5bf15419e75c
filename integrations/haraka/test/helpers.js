'use strict'
// Test helpers: a fake mailtls HTTP API on loopback.

const http = require('node:http')
const net = require('node:net')

// apiServer starts an HTTP server on 127.0.0.1 whose handler is replaceable; it records
// every request (url, authorization header).
async function apiServer(handler) {
    const requests = []
    const state = { handler }
    const server = http.createServer((req, res) => {
        requests.push({ url: req.url, authorization: req.headers.authorization })
        state.handler(req, res)
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const sockets = new Set()
    server.on('connection', (s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
    })
    return {
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        set handler(h) {
            state.handler = h
        },
        close: () =>
            new Promise((resolve) => {
                for (const s of sockets) s.destroy()
                server.close(resolve)
            }),
    }
}

function json(status, body) {
    return (req, res) => {
        res.writeHead(status, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify(body))
    }
}

// closedPort returns a loopback port nothing listens on (bound, then released).
async function closedPort() {
    const s = net.createServer()
    await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
    const { port } = s.address()
    await new Promise((resolve) => s.close(resolve))
    return port
}

module.exports = { apiServer, json, closedPort }
