//  compose.haproxy: compose/haproxy.cfg, unchanged, run by a real haproxy in
//  front of three megle-gateway processes (plus matcher and redis) on
//  loopback. Only environment variables differ from compose: the listen
//  address, the stats socket, and the resolver, which is a tiny DNS server
//  of this test answering an SRV name with the gateways' ports (Docker's
//  DNS answers A records for the scaled service instead).
//
//  Shows: clients through the balancer are spread over every gateway and
//  matched across gateways, signals relay both ways; TLS termination (wss)
//  as compose/tls.yml turns it on; /metrics is not public; a killed gateway
//  is marked down by the health checks and gets no new clients; a gateway
//  added to DNS is picked up without restarting haproxy.

import { test, before, after } from 'node:test';
import assert, { AssertionError } from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';

import { startStack, waitFor, freePort, guarded, SOURCE_DIR }
    from '../lib/stack.mjs';
import WebSocket from 'ws';

import { Client, connect, rawPayload } from '../lib/client.mjs';
import { startDns, startHaproxy, backendServers } from './lb.mjs';

const SRV = '_megle._tcp.megle.test';
const CONFIG = path.join(SOURCE_DIR, 'compose', 'haproxy.cfg');

let stack;
let dns;
let lb;
let lbPort;
let tlsPort;
let tlsCert;
let statsSock;
let dir;

function publish() {
    dns.setTargets([...stack.gateways.values()].map((g) => ({
        host: `${g.id}.megle.test`, ip: '127.0.0.1', port: g.port,
    })));
}

//  The backend slot serving port, or undefined.
async function slotOf(port) {
    const servers = await backendServers(statsSock);
    return servers.find((s) => s.addr === `127.0.0.1:${port}`);
}

function lbReport() {
    return `----- haproxy (last 40 lines) -----\n${lb.lines.slice(-40).join('\n')}`;
}

before(async () => {
    stack = await startStack({ gateways: ['gw-a', 'gw-b', 'gw-c'] });
    dir = mkdtempSync(path.join(tmpdir(), 'megle-haproxy-'));
    statsSock = path.join(dir, 'admin.sock');
    dns = await startDns(SRV);
    publish();
    lbPort = await freePort();
    tlsPort = await freePort();
    //  A self-signed certificate for 127.0.0.1, as haproxy wants it: the
    //  certificate followed by its key in one PEM file.
    const key = path.join(dir, 'key.pem');
    const crt = path.join(dir, 'crt.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes',
        '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    tlsCert = readFileSync(crt);
    const pem = path.join(dir, 'megle.pem');
    execFileSync('sh', ['-c', `cat '${crt}' '${key}' > '${pem}'`]);
    lb = startHaproxy(CONFIG, {
        MEGLE_LB_BIND: `127.0.0.1:${lbPort}`,
        MEGLE_LB_TLS_BIND: `127.0.0.1:${tlsPort}`,
        MEGLE_LB_TLS_CERT: pem,
        MEGLE_LB_DNS: `127.0.0.1:${dns.port}`,
        MEGLE_LB_GATEWAYS: SRV,
        MEGLE_LB_STATS: statsSock,
    });
    try {
        await waitFor(async () => {
            if (lb.exited) {
                throw new AssertionError({
                    message: `haproxy exited ${JSON.stringify(lb.exited)}` });
            }
            const up = (await backendServers(statsSock)).filter((s) => s.status === 'UP');
            return up.length === 3;
        }, { timeout: 20000, interval: 100, what: 'haproxy: 3 gateways UP' });
    } catch (err) {
        err.message += `\n${lbReport()}`;
        throw err;
    }
});

after(async () => {
    if (lb) await lb.stop();
    if (dns) dns.close();
    if (stack) await stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
});

const lbUrl = () => `ws://127.0.0.1:${lbPort}/ws`;

//  A client through the balancer; c.gateway is the gateway that serves it,
//  read from the matcher's session hash in Redis.
async function lbClient() {
    const c = await connect(lbUrl());
    stack.clients.add(c);
    c.gateway = await waitFor(async () =>
        (await stack.redis.hgetall(`{megle}:s:${c.id}`)).gw,
    { timeout: 5000, what: `session ${c.id} in redis` });
    return c;
}

function httpGet(urlPath) {
    return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: lbPort, path: urlPath, agent: false,
                   timeout: 2000 }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode,
                                          body: Buffer.concat(chunks).toString() }));
        }).on('error', reject);
    });
}

const guard = (fn) => guarded(() => stack, async (t, s) => {
    try {
        await fn(t, s);
    } catch (err) {
        process.stderr.write(`\n${lbReport()}\n`);
        throw err;
    }
});

test('the balancer serves the web client and its own health', guard(async () => {
    const index = await httpGet('/');
    assert.equal(index.status, 200);
    assert.match(index.body, /<html/i);
    assert.equal((await httpGet('/lb-healthz')).status, 200);
    assert.equal((await httpGet('/readyz')).status, 200);
    //  Metrics stay private: the balancer refuses them.
    assert.equal((await httpGet('/metrics')).status, 403);
}));

test('TLS: a wss client through the balancer matches a plain one', guard(async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/ws`,
        { ca: tlsCert, perMessageDeflate: false, handshakeTimeout: 5000 });
    const x = new Client(ws);
    stack.clients.add(x);
    await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
    });
    x.id = (await x.next('welcome')).data.id;
    const y = await lbClient();
    x.send('find_match');
    await x.next('waiting');
    y.send('find_match');
    assert.equal((await y.next('match_found')).data.partner_id, x.id);
    assert.equal((await x.next('match_found')).data.partner_id, y.id);
    y.signalRaw(x.id, 'offer', '{"sdp":"over tls"}');
    assert.equal(rawPayload(await x.next('signal')), '{"sdp":"over tls"}');
}));

test('clients spread over every gateway, match across gateways, relay signals',
    guard(async () => {
        //  leastconn + sequential connects: 6 clients, 2 per gateway.
        const clients = [];
        for (let i = 0; i < 6; i++) clients.push(await lbClient());
        const per = {};
        for (const c of clients) per[c.gateway] = (per[c.gateway] || 0) + 1;
        assert.deepEqual(Object.keys(per).sort(), ['gw-a', 'gw-b', 'gw-c'],
            `clients by gateway: ${JSON.stringify(per)}`);

        //  Pair clients on different gateways, one pair per gateway couple.
        const on = (id) => clients.filter((c) => c.gateway === id);
        const pairs = [[on('gw-a')[0], on('gw-b')[0]],
                       [on('gw-b')[1], on('gw-c')[0]],
                       [on('gw-c')[1], on('gw-a')[1]]];
        for (const [x, y] of pairs) {
            assert.notEqual(x.gateway, y.gateway);
            x.send('find_match');
            await x.next('waiting');
            y.send('find_match');
            const my = await y.next('match_found');
            const mx = await x.next('match_found');
            assert.equal(mx.data.partner_id, y.id);
            assert.equal(my.data.partner_id, x.id);
            assert.equal(mx.data.match_id, my.data.match_id);

            const offer = `{"sdp":"v=0 offer from ${x.gateway}","n":[1,2.5,null]}`;
            x.signalRaw(y.id, 'offer', offer);
            const got = await y.next('signal');
            assert.equal(got.data.sender_id, x.id);
            assert.equal(got.data.type, 'offer');
            assert.equal(rawPayload(got), offer);

            y.signal(x.id, 'answer', { sdp: `answer from ${y.gateway}` });
            const back = await x.next('signal');
            assert.equal(back.data.sender_id, y.id);
            assert.deepEqual(back.data.payload, { sdp: `answer from ${y.gateway}` });
        }
    }));

test('a gateway added to DNS is picked up without restarting haproxy',
    guard(async (t, s) => {
        //  Hold connections on the three gateways so that leastconn prefers
        //  an empty newcomer.
        for (let i = 0; i < 3; i++) await lbClient();
        const pid = lb.proc.pid;
        const gw = await s.addGateway('gw-d');
        publish();
        await waitFor(async () => (await slotOf(gw.port))?.status === 'UP',
            { timeout: 20000, interval: 100, what: 'haproxy: gw-d UP' });
        const c = await lbClient();
        assert.equal(c.gateway, 'gw-d');
        assert.equal(lb.proc.pid, pid);
        assert.equal(lb.exited, null);
    }));

test('health checks mark a killed gateway down; it gets no new clients',
    guard(async (t, s) => {
        const victim = s.gw('gw-c');
        assert.equal((await slotOf(victim.port))?.status, 'UP');
        victim.proc.signal('SIGKILL');
        await victim.proc.done;
        //  Still in DNS (like a crashed container): only the checks see it.
        const slot = await waitFor(async () => {
            const sl = await slotOf(victim.port);
            return sl && sl.status.startsWith('DOWN') ? sl : null;
        }, { timeout: 10000, interval: 100, what: 'haproxy: gw-c DOWN' });
        assert.ok(slot);
        const seen = new Set();
        for (let i = 0; i < 8; i++) seen.add((await lbClient()).gateway);
        assert.ok(!seen.has('gw-c'), `a client landed on the dead gw-c: ${[...seen]}`);
        assert.ok(seen.size >= 2, `clients by gateway: ${[...seen]}`);
        //  Its removal from DNS empties the slot (maintenance, no address).
        s.gateways.delete('gw-c');
        publish();
        await waitFor(async () => (await slotOf(victim.port)) === undefined,
            { timeout: 20000, interval: 200, what: 'haproxy: gw-c slot freed' });
    }));
