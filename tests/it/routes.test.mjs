//  routes - the matcher's route cache (matcher/routes.c; issues 7 and 8):
//  signals, chat and typing relayed from memory when it is safe, through
//  the route script otherwise. With one matcher and with two:
//  - pairs exchange numbered signals and chat lines: most are relayed
//    from the cache (the matcher's /metrics says so), and every one
//    arrives exactly once, in order, from the partner, in the match it
//    was sent in;
//  - skip and re-match while both sides signal flat out: no signal of an
//    old match ever reaches the new partner;
//  - a forged target_id is refused with not_partner, as without the
//    cache; a signal after the partner left gets not_matched;
//  - a stale cached route (the match ended through the other matcher) is
//    used, and its relay, stamped with the old match, is dropped by the
//    receiving gateway: it reaches nobody, never the new partner (frames
//    injected on the matcher's bus with megle-tap --replay);
//  - MEGLE_ROUTE_CACHE=0 turns it off (everything through Redis).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';
import { KIND, frame, recordFile } from '../lib/frames.mjs';
import { pairUp, pinOf, senders, sendOne, skipTo, tracked as trackedOf } from '../lib/relay.mjs';

const TAP = process.env.MEGLE_TAP_BIN;

let stack;
const test = (name, fn, timeout = 120000) =>
    it(name, { timeout }, guarded(() => stack, fn));

const CACHED = 'megle_matcher_routes_cached_total';
const REDIS = 'megle_matcher_routes_redis_total';

//  Sum of a counter over every matcher.
async function total(name) {
    let n = 0;
    for (let i = 0; i < stack.matchers.length; i++) {
        n += (await stack.matcherMetrics(i))[name] || 0;
    }
    return n;
}

const sending = senders();
const startSending = sending.start;
const stopSending = sending.stop;
const tracked = (gw) => trackedOf(stack, gw);
const pin = (sid) => pinOf(stack.busIns, sid);

//  N pairs (across gateways) send `each` numbered signals and a few chat
//  lines each way, back to back; every one must arrive exactly once.
async function exactRelay(gateways, pairs, each) {
    const clients = [];
    for (let i = 0; i < pairs; i++) {
        const x = await tracked(gateways[i % gateways.length]);
        const y = await tracked(gateways[(i + 1) % gateways.length]);
        await pairUp(x, y);
        clients.push(x, y);
    }
    //  One relay each way first: a side whose match another matcher made
    //  learns its route from that relay's route script (and while it is in
    //  flight, that session's later relays go through Redis too, to stay
    //  in order). Then the burst, counted.
    for (const c of clients) sendOne(c);
    await waitFor(() => clients.every((c) => c.count === 1),
                  { timeout: 10000, what: 'a first relay received by every client' });
    const cachedBefore = await total(CACHED);
    const redisBefore = await total(REDIS);
    for (let k = 1; k < each; k++) {
        for (const c of clients) sendOne(c, k % 50 === 49);
    }
    const chats = Math.floor(each / 50);
    await waitFor(() => clients.every((c) => c.count + c.chats === each),
                  { timeout: 30000, what: `${each} relays received by every client` });
    for (const c of clients) {
        assert.equal(c.chats, chats);
        assert.equal(c.events('error').length, 0, c.events('error').map((e) => e.raw).join());
    }
    assert.deepEqual(clients.flatMap((c) => c.bad), []);
    const cached = (await total(CACHED)) - cachedBefore;
    const redis = (await total(REDIS)) - redisBefore;
    process.stderr.write(`# ${clients.length * (each - 1)} relays: ${cached} from the ` +
                         `route cache, ${redis} through redis\n`);
    assert.equal(cached + redis, clients.length * (each - 1));
    return { cached, redis, clients };
}

//  Pairs (a, b) signalling every 5 ms; a skips (leave + find_match) into a
//  waiting stranger c while b keeps sending. Nothing of
//  the old match may reach a's new partner (checked on arrival), and the
//  new pairs talk.
async function skipWhileSignalling(gateways, pairsWanted, pickB) {
    const pairs = [];
    let g = 0;
    while (pairs.length < pairsWanted) {
        const a = await tracked(gateways[g++ % gateways.length]);
        let b = await tracked(gateways[g++ % gateways.length]);
        while (!pickB(a, b)) b = await tracked(gateways[g++ % gateways.length]);
        await pairUp(a, b);
        pairs.push({ a, b });
    }
    const cachedBefore = await total(CACHED);
    for (const { a, b } of pairs) {
        startSending(a, 5);
        startSending(b, 5);
    }
    await waitFor(() => pairs.every(({ a, b }) => a.count > 20 && b.count > 20),
                  { timeout: 15000, what: 'signals flowing in every pair' });
    const fresh = [];
    for (const { a, b } of pairs) {
        const c = await tracked(gateways[g++ % gateways.length]);
        await skipTo(a, b, c);
        startSending(c, 5);
        fresh.push({ a, c });
    }
    const counts = new Map(fresh.map(({ a, c }) => [a, a.count + c.count]));
    await waitFor(() => fresh.every(({ a, c }) => a.got.has(c.id) && c.got.has(a.id) &&
                                    a.count + c.count > counts.get(a) + 20),
                  { timeout: 15000, what: 'signals in every new pair' });
    stopSending();
    const all = [...pairs.flatMap(({ a, b }) => [a, b]), ...fresh.map(({ c }) => c)];
    assert.deepEqual(all.flatMap((c) => c.bad), [], 'misdelivered or duplicated signals');
    for (const { a, b } of pairs) {
        assert.equal(a.matches, 2);
        assert.ok(a.got.has(b.id), 'b reached a before the skip');
    }
    const cached = (await total(CACHED)) - cachedBefore;
    assert.ok(cached > 0, 'no signal was relayed from the route cache');
    let stale = 0;
    for (const id of gateways) {
        stale += (await stack.gw(id).metrics()).megle_gateway_bus_frames_stale_total || 0;
    }
    process.stderr.write(`# skips: ${cached} relays from the route cache; ` +
                         `${stale} stale relays dropped by the gateways\n`);
    //  Redis agrees with what the clients were told.
    for (const { a, c } of fresh) {
        const s = await stack.redis.hgetall(`{megle}:s:${a.id}`);
        assert.equal(s.partner, c.id);
        assert.equal(s.match, a.cur.match);
    }
}

describe('routes: one matcher', () => {
    before(async () => {
        //  A short interest wait, for the relax-timer match below.
        stack = await startStack({ gateways: ['gw-a', 'gw-b'], matcherHttp: true,
                                   matcherEnv: { MEGLE_INTEREST_WAIT_MS: '300' } });
    });
    after(async () => {
        stopSending();
        if (stack) await stack.stop();
    });

    test('a match made by the interest-wait timer is learned too: no Redis route', async () => {
        const x = await tracked('gw-a');
        const y = await tracked('gw-b');
        //  No shared interest: they wait, then the relax timer pairs them.
        x.send('find_match', { interests: ['cats'] });
        await x.next('waiting', { timeout: 10000 });
        y.send('find_match', { interests: ['dogs'] });
        await waitFor(() => x.cur.partner === y.id && y.cur.partner === x.id,
                      { timeout: 10000, what: 'matched by the relax timer' });
        const [cachedBefore, redisBefore] = [await total(CACHED), await total(REDIS)];
        sendOne(x);
        sendOne(y);
        await waitFor(() => x.count === 1 && y.count === 1, { what: 'a signal each way' });
        assert.equal(await total(REDIS), redisBefore, 'a relay went through Redis');
        assert.equal(await total(CACHED), cachedBefore + 2);
        assert.deepEqual([...x.bad, ...y.bad], []);
    });

    test('pairs relay signals and chat from the cache, exactly once and in order', async () => {
        const { cached, redis } = await exactRelay(['gw-a', 'gw-b'], 10, 200);
        //  Routes are learned from the finds (and the warm-up relay):
        //  the burst comes from the cache.
        assert.ok(cached >= 0.9 * (cached + redis), `only ${cached} cached, ${redis} redis`);
    });

    test('skip and re-match while signals are in flight', async () => {
        await skipWhileSignalling(['gw-a', 'gw-b'], 6, () => true);
    });

    test('a forged target_id gets not_partner; after partner_left, not_matched', async () => {
        const x = await tracked('gw-a');
        const y = await tracked('gw-b');
        const z = await tracked('gw-b');
        await pairUp(x, y);
        sendOne(x);
        await waitFor(() => y.count === 1, { what: 'a first signal' });
        const cachedBefore = await total(CACHED);
        sendOne(x);
        await waitFor(() => y.count === 2, { what: 'a second signal' });
        assert.equal(await total(CACHED), cachedBefore + 1, 'not from the cache');
        //  Another session's id, and an id of nobody: refused, not relayed.
        x.signal(z.id, 'offer', { forged: true });
        assert.equal((await x.next('error')).data.code, 'not_partner');
        x.signal('0'.repeat(32), 'offer', { forged: true });
        assert.equal((await x.next('error')).data.code, 'not_partner');
        sendOne(x);
        await waitFor(() => y.count === 3, { what: 'the partner still reached' });
        assert.equal(z.events('signal').length, 0);
        assert.deepEqual([...x.bad, ...y.bad], []);
        //  y skips: x's next signal reaches nobody and is refused.
        y.send('leave');
        await waitFor(() => x.cur.partner === null, { what: 'x told partner_left' });
        x.signal(y.id, 'candidate', { late: true });
        assert.equal((await x.next('error')).data.code, 'not_matched');
        x.send('chat', { text: 'anyone?' });
        assert.equal((await x.next('error')).data.code, 'not_matched');
        assert.equal(y.events('signal').length, 3);
    });
});

describe('routes: two matchers, three gateways', () => {
    const GATEWAYS = ['gw-1', 'gw-2', 'gw-3'];
    before(async () => {
        stack = await startStack({ gateways: GATEWAYS, matchers: 2, matcherHttp: true });
        //  Every gateway hears both matchers before sessions are pinned.
        await waitFor(async () => {
            for (const id of GATEWAYS) {
                const m = await stack.gw(id).metrics();
                for (const busIn of stack.busIns) {
                    if (m[`megle_gateway_matcher_up{matcher="${busIn}"}`] !== 1) return false;
                }
            }
            return true;
        }, { timeout: 15000, what: 'every gateway sees both matchers' });
    });
    after(async () => {
        stopSending();
        if (stack) await stack.stop();
    });

    test('pairs across matchers relay from the cache, exactly once and in order', async () => {
        const { cached, redis } = await exactRelay(GATEWAYS, 10, 200);
        assert.ok(cached >= 0.9 * (cached + redis), `only ${cached} cached, ${redis} redis`);
        for (let i = 0; i < 2; i++) {
            assert.ok((await stack.matcherMetrics(i))[CACHED] > 0, `matcher ${i} cached nothing`);
        }
    });

    test('skip and re-match across the two matchers while signals are in flight', async () => {
        await skipWhileSignalling(GATEWAYS, 8, (a, b) => pin(a.id) !== pin(b.id));
    });

    test('a stale cached route reaches nobody: the gateway drops the old match', async () => {
        //  x and y pinned to different matchers; x's matcher learns x's
        //  route from x's first signal; y leaves through the other one.
        const x = await tracked('gw-1');
        let y = await tracked('gw-2');
        while (pin(y.id) === pin(x.id)) y = await tracked('gw-2');
        const mx = pin(x.id);
        await pairUp(x, y);
        const old = x.cur.match;
        sendOne(x);
        await waitFor(() => y.count === 1, { what: 'x\'s first signal' });
        const cached0 = (await stack.matcherMetrics(mx))[CACHED];
        sendOne(x);
        await waitFor(() => y.count === 2, { what: 'x\'s second signal' });
        assert.equal((await stack.matcherMetrics(mx))[CACHED], cached0 + 1);
        y.send('leave');
        await waitFor(() => x.cur.partner === null, { what: 'x told partner_left' });

        //  A frame of x stamped with the old match, as x's gateway would
        //  have sent it just before partner_left reached it.
        const dir = mkdtempSync(path.join(os.tmpdir(), 'megle-routes-'));
        const stale = async (label) => {
            const file = path.join(dir, `${label}.rec`);
            const payload = JSON.stringify({ from: x.id, to: y.id, match: old, seq: 1e9 });
            writeFileSync(file, recordFile([
                frame({ kind: KIND.signal, gateway: 'gw-1', session: x.id, peer: y.id,
                        match: old, type: 'candidate', payload: Buffer.from(payload) }),
            ]));
            const dropped = async () =>
                (await stack.gw('gw-2').metrics()).megle_gateway_bus_frames_stale_total || 0;
            const before = await dropped();
            const cached = (await stack.matcherMetrics(mx))[CACHED];
            const r = spawnSync(TAP, ['--replay', file, '--send', stack.busIns[mx], '-q'],
                                { timeout: 10000 });
            assert.equal(r.status, 0, `megle-tap: ${r.stderr}`);
            await waitFor(async () => (await dropped()) === before + 1,
                          { timeout: 10000, what: `gw-2 dropping the stale relay (${label})` });
            //  It was the cache (stale, as designed) that routed it.
            assert.equal((await stack.matcherMetrics(mx))[CACHED], cached + 1);
        };
        try {
            //  y has no match now.
            await stale('unmatched');
            //  y in a new match with z: still dropped, z never sees it.
            const z = await tracked('gw-3');
            await pairUp(z, y);
            await stale('rematched');
            sendOne(y);
            await waitFor(() => z.count === 1, { what: 'the new pair talks' });
            assert.equal(y.count, 2, 'y got a signal of the old match');
            assert.equal(z.events('signal').length, 1);
            assert.deepEqual([...x.bad, ...y.bad, ...z.bad], []);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe('routes: MEGLE_ROUTE_CACHE=0', () => {
    before(async () => {
        stack = await startStack({ gateways: ['gw-a', 'gw-b'], matcherHttp: true,
                                   matcherEnv: { MEGLE_ROUTE_CACHE: '0' } });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('every relay goes through Redis, exactly as before', async () => {
        const { cached, redis } = await exactRelay(['gw-a', 'gw-b'], 4, 50);
        assert.equal(cached, 0);
        assert.equal(redis, 4 * 2 * (50 - 1)); //  after the warm-up relay
    });
});
