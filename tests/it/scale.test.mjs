//  scale - several matchers behind every gateway, and gateways sharing one
//  port (issue 8; docs/scaling.md). Three gateways, two matchers, one Redis:
//  - routing: each session's frames go to the matcher the rendezvous hash
//    picks (checked against each matcher's frames_in counters);
//  - skip and re-match across the two matchers while signals are in
//    flight: no signal of an old match reaches the new partner;
//  - 200 clients in pairs across gateways exchanging numbered signals; one
//    matcher killed with SIGKILL: every pair gets signals through again
//    within the failover deadline, nothing duplicated or misdelivered,
//    nobody in two matches; the matcher restarted takes new sessions;
//  - two gateways on one port with MEGLE_REUSEPORT=1.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startStack, guarded, waitFor, freePort, parseMetrics } from '../lib/stack.mjs';
import { connect } from '../lib/client.mjs';
import { pairUp, pinOf, senders, sendOne, skipTo, track, tracked as trackedOf } from '../lib/relay.mjs';

const MATCHER_TIMEOUT_MS = 1000;
//  Failover deadline asserted: the timeout plus generous slack for a shared,
//  noisy machine (a SIGKILLed matcher's connection drops at once, so the
//  gateways usually re-route well before the timeout).
const FAILOVER_DEADLINE_MS = MATCHER_TIMEOUT_MS + 6000;
const GATEWAYS = ['gw-1', 'gw-2', 'gw-3'];

let stack;
const test = (name, fn, timeout = 120000) =>
    it(name, { timeout }, guarded(() => stack, fn));

const sending = senders();
const startSending = sending.start;
const stopSending = sending.stop;
const tracked = (gw) => trackedOf(stack, gw);
const pin = (sid, live) => pinOf(stack.busIns, sid, live);

//  Redis: each session's partner points back at it, through one match.
async function checkPartnersInRedis(clients) {
    for (const c of clients) {
        if (!c.cur.partner) continue;
        const s = await stack.redis.hgetall(`{megle}:s:${c.id}`);
        assert.equal(s.state, 'matched', `${c.id} is not matched in Redis`);
        assert.equal(s.partner, c.cur.partner, `${c.id}: partner differs in Redis`);
        assert.equal(s.match, c.cur.match, `${c.id}: match differs in Redis`);
        const p = await stack.redis.hgetall(`{megle}:s:${c.cur.partner}`);
        assert.equal(p.partner, c.id, `${c.cur.partner} does not point back`);
    }
}

const metricsOf = (i) => stack.matcherMetrics(i);
const opens = (m) => m['megle_matcher_frames_in_total{kind="open"}'] || 0;

async function allGatewaysSee(i, up) {
    const label = `megle_gateway_matcher_up{matcher="${stack.busIns[i]}"}`;
    await waitFor(async () => {
        for (const id of GATEWAYS) {
            if ((await stack.gw(id).metrics())[label] !== up) return false;
        }
        return true;
    }, { timeout: 15000, what: `every gateway sees matcher ${i} ${up ? 'up' : 'dead'}` });
}

describe('scale: two matchers, three gateways', () => {
    before(async () => {
        stack = await startStack({
            gateways: [],
            matchers: 2,
            matcherHttp: true,
            matcherEnv: { MEGLE_REMATCH_BLOCK_MS: '60000' },
            gatewayEnv: { MEGLE_MATCHER_TIMEOUT_MS: String(MATCHER_TIMEOUT_MS) },
        });
        for (const id of GATEWAYS) await stack.addGateway(id);
        await allGatewaysSee(0, 1);
        await allGatewaysSee(1, 1);
    });
    after(async () => {
        stopSending();
        if (stack) await stack.stop();
    });

    test('sessions go to the matcher their rendezvous hash picks', async () => {
        const before0 = opens(await metricsOf(0));
        const before1 = opens(await metricsOf(1));
        const clients = [];
        for (let i = 0; i < 40; i++) clients.push(await tracked(GATEWAYS[i % 3]));
        const want = [0, 0];
        for (const c of clients) want[pin(c.id)]++;
        assert.ok(want[0] > 0 && want[1] > 0, `all on one matcher: ${want}`);
        await waitFor(async () =>
            opens(await metricsOf(0)) - before0 === want[0] &&
            opens(await metricsOf(1)) - before1 === want[1],
        { timeout: 10000, what: `OPENs split ${want} between the matchers` });
    });

    test('skip and re-match across two matchers while signals are in flight', async () => {
        //  Pairs (a, b) pinned to different matchers, signalling flat out;
        //  a skips (leave + find_match) into a waiting c; b finds again.
        const PAIRS = 8;
        const pairs = [];
        let g = 0;
        while (pairs.length < PAIRS) {
            const a = await tracked(GATEWAYS[g++ % 3]);
            let b = await tracked(GATEWAYS[g++ % 3]);
            while (pin(b.id) === pin(a.id)) b = await tracked(GATEWAYS[g++ % 3]);
            await pairUp(a, b);
            pairs.push({ a, b });
        }
        for (const { a, b } of pairs) {
            startSending(a, 5);
            startSending(b, 5);
        }
        await waitFor(() => pairs.every(({ a, b }) => a.got.size && b.got.size),
                      { timeout: 10000, what: 'signals flowing in every pair' });
        const fresh = [];
        for (const { a, b } of pairs) {
            //  A stranger waits; a skips into them while b keeps sending.
            const c = await tracked(GATEWAYS[g++ % 3]);
            await skipTo(a, b, c);
            startSending(c, 5);
            fresh.push({ a, c });
        }
        //  The new pairs talk; late signals of the old matches must all
        //  have been dropped.
        await waitFor(() => fresh.every(({ a, c }) => a.got.has(c.id) && c.got.has(a.id)),
                      { timeout: 10000, what: 'signals in every new pair' });
        stopSending();
        const all = [...pairs.flatMap(({ a, b }) => [a, b]), ...fresh.map(({ c }) => c)];
        const bad = all.flatMap((c) => c.bad);
        assert.deepEqual(bad, [], 'misdelivered or duplicated signals');
        for (const { a, b } of pairs) {
            assert.equal(a.matches, 2);
            assert.equal(b.matches, 1);
            //  Nothing b sent after a's new match_found reached a (checked
            //  per message above); and b's signals did reach a before.
            assert.ok(a.got.has(b.id));
        }
        await checkPartnersInRedis(all);
    });

    test('200 clients: a matcher killed mid-run, pairs fail over, the restarted one takes new sessions', async () => {
        const N = 200;
        const clients = [];
        for (let i = 0; i < N / 2; i++) {
            const x = await tracked(GATEWAYS[i % 3]);
            const y = await tracked(GATEWAYS[(i + 1) % 3]);
            await pairUp(x, y);
            clients.push(x, y);
        }
        const onDying = clients.filter((c) => pin(c.id) === 1).length;
        assert.ok(onDying > 20, `only ${onDying} sessions on matcher 1`);
        for (const c of clients) startSending(c, 100);
        await waitFor(() => clients.every((c) => c.got.size === 1),
                      { timeout: 20000, what: 'signals flowing in all 100 pairs' });

        const rerouted = async () => {
            let n = 0;
            for (const id of GATEWAYS) {
                n += (await stack.gw(id).metrics()).megle_gateway_sessions_rerouted_total;
            }
            return n;
        };
        const reroutedBefore = await rerouted();
        const killedAt = Date.now();
        await stack.killMatcher(1);
        //  Every pair (all still connected) gets a signal sent after the
        //  kill through, both ways, within the deadline.
        await waitFor(() => clients.every((c) => {
            const list = c.got.get(c.cur.partner) || [];
            return list.some((s) => s.sentAt > killedAt);
        }), { timeout: FAILOVER_DEADLINE_MS, interval: 50,
              what: 'every pair signalling again after the kill' });
        const took = Math.max(...clients.map((c) => {
            const s = c.got.get(c.cur.partner).find((e) => e.sentAt > killedAt);
            return s.at - killedAt;
        }));
        process.stderr.write(`# all 100 pairs signalling again ${took} ms after ` +
                             'SIGKILL of a matcher\n');
        assert.ok(await rerouted() > reroutedBefore, 'no session was re-routed');
        await allGatewaysSee(1, 0);

        //  Restart: every gateway hears it; new sessions go to it again.
        stack.startMatcher(1);
        await allGatewaysSee(1, 1);
        const before1 = opens(await metricsOf(1));
        const newcomers = [];
        for (let i = 0; i < 20; i++) newcomers.push(await tracked(GATEWAYS[i % 3]));
        const want1 = newcomers.filter((c) => pin(c.id) === 1).length;
        assert.ok(want1 > 0);
        await waitFor(async () => opens(await metricsOf(1)) - before1 === want1,
                      { timeout: 10000, what: `${want1} OPENs on the restarted matcher` });
        for (let i = 0; i < newcomers.length; i += 2) {
            await pairUp(newcomers[i], newcomers[i + 1]);
            startSending(newcomers[i], 100);
            startSending(newcomers[i + 1], 100);
        }
        await waitFor(() => newcomers.every((c) => c.got.size === 1),
                      { timeout: 10000, what: 'newcomers signalling' });
        stopSending();

        //  Nothing duplicated, misdelivered or out of order; everybody in
        //  exactly one match, and Redis agrees.
        const everyone = [...clients, ...newcomers];
        assert.deepEqual(everyone.flatMap((c) => c.bad), []);
        for (const c of everyone) assert.equal(c.matches, 1, `${c.id} matched ${c.matches} times`);
        await checkPartnersInRedis(everyone);
    }, 200000);
});

//  ---------------------------------------------------------------------

function getMetrics(port) {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false,
                               timeout: 2000 }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve(parseMetrics(Buffer.concat(chunks).toString('utf8'))));
        });
        req.on('timeout', () => req.destroy(new Error('http timeout')));
        req.on('error', reject);
    });
}

describe('scale: gateways sharing one port (MEGLE_REUSEPORT=1)', () => {
    before(async () => {
        stack = await startStack({ gateways: [], matchers: 2 });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('two gateways on one port: both ready, connections spread, matching across them', async () => {
        const port = await freePort();
        const env = { MEGLE_REUSEPORT: '1', MEGLE_LOG_LEVEL: 'debug' };
        await stack.addGateway('gw-r1', env, { port, wait: false });
        await stack.addGateway('gw-r2', env, { port, wait: false });
        //  /readyz and /metrics answer from whichever process the kernel
        //  picks: the gateway's id is in /metrics (megle_gateway_info).
        const seen = new Map();
        await waitFor(async () => {
            for (const id of ['gw-r1', 'gw-r2']) {
                if (!stack.gw(id).proc.alive) throw new Error(`${id} exited`);
            }
            const m = await getMetrics(port);
            for (const id of ['gw-r1', 'gw-r2']) {
                if (m[`megle_gateway_info{gateway="${id}"}`] === 1) seen.set(id, m);
            }
            return ['gw-r1', 'gw-r2'].every((id) => seen.get(id)?.megle_gateway_matcher_up === 1);
        }, { timeout: 20000, what: 'both gateways ready on the shared port' });

        //  Many connections: the kernel spreads them over both.
        const clients = [];
        for (let i = 0; i < 40; i++) {
            const c = await connect(`ws://127.0.0.1:${port}/ws`);
            stack.clients.add(c);
            track(c);
            clients.push(c);
        }
        const where = (c) => {
            for (const id of ['gw-r1', 'gw-r2']) {
                if (stack.gw(id).proc.lines.some((l) => l.includes('"session_opened"') &&
                                                   l.includes(c.id))) return id;
            }
            return null;
        };
        await waitFor(() => clients.every((c) => where(c)),
                      { timeout: 10000, what: 'every connection logged by a gateway' });
        const on1 = clients.filter((c) => where(c) === 'gw-r1');
        const on2 = clients.filter((c) => where(c) === 'gw-r2');
        process.stderr.write(`# SO_REUSEPORT: ${on1.length} connections on gw-r1, ` +
                             `${on2.length} on gw-r2\n`);
        assert.ok(on1.length > 0 && on2.length > 0, 'one gateway got every connection');
        //  Matching and signals across the two processes.
        const [x, y] = [on1[0], on2[0]];
        await pairUp(x, y);
        sendOne(x);
        sendOne(y);
        await waitFor(() => x.got.has(y.id) && y.got.has(x.id),
                      { timeout: 10000, what: 'signals across the shared-port gateways' });
        assert.deepEqual([...x.bad, ...y.bad], []);
    });

    test('a draining gateway leaves the shared port at once: new clients land on the other', async () => {
        //  gw-r1 drains for a long while (DRAIN_DELAY_MS) but must stop
        //  taking connections the moment SIGTERM arrives.
        const port = await freePort();
        const env = { MEGLE_REUSEPORT: '1', MEGLE_LOG_LEVEL: 'debug',
                      MEGLE_DRAIN_DELAY_MS: '20000' };
        await stack.addGateway('gw-d1', env, { port, wait: false });
        await stack.addGateway('gw-d2', env, { port, wait: false });
        await waitFor(() => ['gw-d1', 'gw-d2'].every((id) =>
            stack.gw(id).proc.lines.some((l) => l.includes('"matcher_up"'))),
                      { timeout: 20000, what: 'both gateways hear a matcher' });
        const d1 = stack.gw('gw-d1').proc;
        d1.signal('SIGTERM');
        await waitFor(() => d1.lines.some((l) => l.includes('"listener_stopped"')),
                      { timeout: 10000, what: 'gw-d1 stops listening at SIGTERM' });
        assert.ok(d1.alive, 'gw-d1 is still draining');
        const clients = [];
        for (let i = 0; i < 30; i++) {
            const c = await connect(`ws://127.0.0.1:${port}/ws`);
            stack.clients.add(c);
            clients.push(c);
        }
        const opened = (id, c) => stack.gw(id).proc.lines.some((l) =>
            l.includes('"session_opened"') && l.includes(c.id));
        await waitFor(() => clients.every((c) => opened('gw-d2', c)),
                      { timeout: 10000, what: 'every new connection opened on gw-d2' });
        assert.equal(clients.filter((c) => opened('gw-d1', c)).length, 0,
                     'the draining gateway took no new connection');
        d1.signal('SIGKILL');
    });
});
