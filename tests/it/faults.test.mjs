//  faults - processes dying under the clients: a gateway killed with
//  SIGKILL (its sessions are cleaned up after MEGLE_GATEWAY_TIMEOUT_MS and
//  partners told), a gateway stopped with SIGTERM (drains: 1001 to its
//  clients, partners told at once), the matcher and Redis restarted.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, guarded, waitFor, freePort } from '../lib/stack.mjs';

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

const inQueue = async (id) =>
    (await stack.redis.call('SISMEMBER', '{megle}:q:video', id)) === 1;

describe('faults', () => {
    before(async () => {
        stack = await startStack({
            gateways: ['gw-a', 'gw-b'],
            matcherEnv: { MEGLE_GATEWAY_TIMEOUT_MS: '1500', MEGLE_HEARTBEAT_MS: '200',
                          MEGLE_MATCHER_HTTP: `127.0.0.1:${await freePort()}` },
            gatewayEnv: { MEGLE_MATCHER_TIMEOUT_MS: '1000' },
        });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('12. SIGKILL of a gateway: partners told within the deadline, its waiting sessions dropped', async () => {
        const { x: a, y: b } = await stack.pair('gw-a', 'gw-b');
        const w = await stack.client('gw-a');
        w.send('find_match');
        await w.next('waiting');
        assert.ok(await inQueue(w.id));

        const killedAt = Date.now();
        stack.gw('gw-a').proc.signal('SIGKILL');
        await a.closed;
        const pl = await b.next('partner_left', { timeout: 5000 });
        const took = Date.now() - killedAt;
        assert.deepEqual(pl.data, { from: a.id });
        process.stderr.write(`# partner_left ${took} ms after SIGKILL\n`);

        //  The ghost w leaves the queue; a newcomer finds nobody.
        await waitFor(async () => !(await inQueue(w.id)),
                      { timeout: 5000, what: 'w removed from {megle}:q:video' });
        const n = await stack.client('gw-b');
        n.send('find_match');
        const r = await n.next(['waiting', 'match_found']);
        assert.equal(r.event, 'waiting', `matched with a ghost: ${r.raw}`);
        //  b can play again and meets n.
        b.send('find_match');
        assert.equal((await b.next('match_found')).data.partner_id, n.id);
        assert.equal((await n.next('match_found')).data.partner_id, b.id);

        //  Redis forgot the dead gateway's sessions.
        await waitFor(async () =>
            (await stack.redis.call('EXISTS', `{megle}:s:${a.id}`)) === 0 &&
            (await stack.redis.call('EXISTS', `{megle}:s:${w.id}`)) === 0 &&
            (await stack.redis.call('SCARD', '{megle}:gw:gw-a')) === 0,
        { timeout: 5000, what: 'dead gateway sessions removed' });

        //  A gateway restarted under the same id serves again.
        stack.gateways.delete('gw-a');
        await stack.addGateway('gw-a');
        const c = await stack.client('gw-a');
        const d = await stack.client('gw-b');
        c.send('find_match');
        await c.next('waiting');
        d.send('find_match');
        assert.equal((await d.next('match_found')).data.partner_id, c.id);
        assert.equal((await c.next('match_found')).data.partner_id, d.id);
        c.signal(d.id, 'offer', { type: 'offer', sdp: 'v=0' });
        assert.equal((await d.next('signal')).data.sender_id, c.id);
    });

    test('12b. SIGTERM of a gateway drains: 1001 to its clients, partners told', async () => {
        const g = await stack.addGateway('gw-c');
        const { x: a, y: b } = await stack.pair('gw-c', 'gw-b');
        const w = await stack.client('gw-c');
        w.send('find_match');
        await w.next('waiting');

        let aClosed = false;
        a.closed.then(() => { aClosed = true; });
        g.proc.signal('SIGTERM');
        //  Phase 1 (MEGLE_DRAIN_DELAY_MS): not ready and no new WebSockets,
        //  while the calls already here go on.
        await waitFor(async () => (await g.get('/readyz')).status === 503,
                      { what: 'draining gateway /readyz 503' });
        await assert.rejects(stack.client('gw-c'), /upgrade refused: HTTP 503/);
        assert.equal(aClosed, false, 'a closed before the drain delay');
        b.signal(a.id, 'candidate', { during: 'drain' });
        assert.deepEqual((await a.next('signal')).data.payload, { during: 'drain' });
        //  Phase 2: bye, partners told, every WebSocket closed with 1001.
        const [ca, cw] = await Promise.all([a.closed, w.closed]);
        assert.deepEqual((await b.next('partner_left')).data, { from: a.id });
        const exit = await g.proc.done;
        assert.equal(exit.code, 0, `gateway exit ${JSON.stringify(exit)}`);
        await waitFor(async () => !(await inQueue(w.id)),
                      { what: 'drained gateway\'s waiting session left the queue' });
        //  Drain closes every WebSocket with 1001 "going away".
        assert.equal(ca.code, 1001, `a's close code ${ca.code}, expected 1001 going away`);
        assert.equal(cw.code, 1001, `w's close code ${cw.code}, expected 1001 going away`);
        stack.gateways.delete('gw-c');
    });

    test('12c. matcher restart: matches in Redis survive, new matches work', async () => {
        const { x, y } = await stack.pair('gw-a', 'gw-b');
        const old = stack.matcher;
        old.signal('SIGKILL');
        await old.done;
        stack.startMatcher();

        //  Until the new matcher runs, a signal may be queued on the bus or
        //  refused with `unavailable`; it must never vanish silently.
        let sent = 0;
        const probes = () => y.log.filter((m) => m.event === 'signal' &&
                                          m.data.payload?.probe !== undefined);
        const refused = () => x.events('error');
        await waitFor(() => {
            if (probes().length) return true;
            x.signal(y.id, 'candidate', { probe: sent++ });
            return false;
        }, { timeout: 15000, interval: 250, what: 'a signal relayed by the new matcher' });
        await waitFor(() => probes().length + refused().length >= sent,
                      { timeout: 10000, what: `all ${sent} probes delivered or refused` });
        for (const e of refused()) assert.equal(e.data.code, 'unavailable', e.raw);
        assert.equal(probes().length + refused().length, sent);
        const seqs = probes().map((m) => m.data.payload.probe);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'probes reordered');
        assert.equal(new Set(seqs).size, seqs.length, 'probe delivered twice');
        for (const gw of ['gw-a', 'gw-b']) await stack.waitReady(stack.gw(gw));

        const p = await stack.client('gw-a');
        const q = await stack.client('gw-b');
        p.send('find_match');
        await p.next('waiting');
        q.send('find_match');
        assert.equal((await q.next('match_found')).data.partner_id, p.id);
        assert.equal((await p.next('match_found')).data.partner_id, q.id);
        x.send('leave', {});
        assert.deepEqual((await y.next('partner_left')).data, { from: x.id });
    });

    test('12d. Redis restart: the matcher reconnects and matches again', async () => {
        const port = stack.redisPort;
        stack.redis.close();
        stack.redisProc.signal('SIGKILL');
        await stack.redisProc.done;
        await stack.startRedis(port);

        //  A find_match is answered (waiting) or refused (unavailable) until
        //  the matcher has reconnected and reloaded its scripts.
        let p = null;
        await waitFor(async () => {
            if (p) {
                stack.clients.delete(p);
                await p.close();
            }
            p = await stack.client('gw-a');
            p.send('find_match');
            const r = await p.next(['waiting', 'match_found', 'error'], { timeout: 1000 })
                .catch(() => null);
            if (r?.event === 'error') {
                assert.ok(['unavailable', 'internal'].includes(r.data.code), r.raw);
            }
            return r?.event === 'waiting';
        }, { timeout: 20000, interval: 100, what: 'find_match answered after Redis restart' });
        const q = await stack.client('gw-b');
        q.send('find_match');
        assert.equal((await q.next('match_found')).data.partner_id, p.id);
        assert.equal((await p.next('match_found')).data.partner_id, q.id);
        p.signal(q.id, 'offer', { type: 'offer' });
        assert.equal((await q.next('signal')).data.sender_id, p.id);
    });

    //  The matcher's own HTTP port (/readyz: 503 while Redis is down).
    const matcherGet = async (urlPath) => {
        const res = await fetch(`http://${stack.matcherEnv().MEGLE_MATCHER_HTTP}${urlPath}`);
        return { status: res.status, body: await res.text() };
    };
    const killRedis = async () => {
        stack.redis.close();
        stack.redisProc.signal('SIGKILL');
        await stack.redisProc.done;
    };

    test('12e. Redis unreachable: find_match refused with unavailable at once, /readyz says so, matching resumes', async () => {
        const port = stack.redisPort;
        await killRedis();
        let p;
        try {
            await waitFor(async () => (await matcherGet('/readyz')).status === 503,
                          { timeout: 5000, what: 'matcher /readyz 503 with Redis down' });
            p = await stack.client('gw-a');
            for (let i = 0; i < 3; i++) {
                const t0 = Date.now();
                p.send('find_match');
                const r = await p.next(['waiting', 'match_found', 'error'], { timeout: 3000 });
                const took = Date.now() - t0;
                assert.equal(r.event, 'error', r.raw);
                assert.equal(r.data.code, 'unavailable', r.raw);
                assert.ok(took < 1000, `unavailable took ${took} ms`);
                process.stderr.write(`# unavailable after ${took} ms\n`);
            }
        } finally {
            if (!stack.redisProc.alive) await stack.startRedis(port);
        }
        await waitFor(async () => (await matcherGet('/readyz')).status === 200,
                      { timeout: 15000, what: 'matcher /readyz 200 once Redis is back' });
        //  p, which connected while Redis was down, can play now.
        await waitFor(async () => {
            p.send('find_match');
            const r = await p.next(['waiting', 'error'], { timeout: 2000 });
            return r.event === 'waiting';
        }, { timeout: 15000, interval: 200, what: 'find_match answered with waiting' });
        const q = await stack.client('gw-b');
        q.send('find_match');
        assert.equal((await q.next('match_found')).data.partner_id, p.id);
        assert.equal((await p.next('match_found')).data.partner_id, q.id);
    });

    test('12f. Redis restarted empty: matched and waiting clients are told, matching works again', async () => {
        const { x, y } = await stack.pair('gw-a', 'gw-b');
        const w = await stack.client('gw-b');
        w.send('find_match');
        await w.next('waiting');
        const port = stack.redisPort;
        await killRedis();
        await stack.startRedis(port);

        //  The matcher finds no {megle}:gws and broadcasts a reset: each
        //  gateway ends its sessions' matches and waits, and re-opens them.
        assert.deepEqual((await x.next('partner_left', { timeout: 15000 })).data, { from: y.id });
        assert.deepEqual((await y.next('partner_left', { timeout: 15000 })).data, { from: x.id });
        const e = await w.next('error', { timeout: 15000 });
        assert.equal(e.data.code, 'unavailable', e.raw);
        assert.ok(stack.matcher.lines.some((l) => /redis lost its data/.test(l)),
                  'the matcher logs why');

        //  The same connections play again: Redis knows their sessions.
        await waitFor(async () => (await matcherGet('/readyz')).status === 200,
                      { timeout: 15000, what: 'matcher ready' });
        x.send('find_match');
        await x.next('waiting');
        //  Re-announced with the same salted IP hash, never the address.
        const sx = await stack.redis.hgetall(`{megle}:s:${x.id}`);
        assert.match(sx.ip, /^[0-9a-f]{32}$/, JSON.stringify(sx));
        y.send('find_match');
        assert.equal((await y.next('match_found')).data.partner_id, x.id);
        assert.equal((await x.next('match_found')).data.partner_id, y.id);
        y.signal(x.id, 'offer', { type: 'offer', sdp: 'after reset' });
        assert.equal((await x.next('signal')).data.payload.sdp, 'after reset');
        w.send('find_match');
        await w.next('waiting');
        for (const c of [x, y, w]) {
            assert.equal(c.events('error').filter((m) => m.data.code !== 'unavailable').length, 0);
        }
    });

    test('12g. bus congestion: past MEGLE_BUS_HWM the gateway answers unavailable and counts it; nothing lost below', async () => {
        const g = await stack.addGateway('gw-h', {
            MEGLE_BUS_HWM: '1000', MEGLE_RATE_MSGS: '0', MEGLE_RATE_BYTES: '0',
        });
        const { x, y } = await stack.pair('gw-h', 'gw-b');
        const drops = async () => (await g.metrics()).megle_gateway_bus_drops_total || 0;
        const dropsBefore = await drops();

        //  With the matcher gone, gw-h's PUSH queue holds MEGLE_BUS_HWM
        //  frames; a burst larger than that is partly refused.
        const old = stack.matcher;
        old.signal('SIGKILL');
        await old.done;
        const N = 1100;
        for (let i = 0; i < N; i++) x.signal(y.id, 'candidate', { burst: i });
        const refused = () => x.events('error');
        const got = () => y.log.filter((m) => m.event === 'signal' &&
                                       m.data.payload?.burst !== undefined);
        await waitFor(() => refused().length > 0,
                      { timeout: 10000, what: 'unavailable past the high-water mark' });
        stack.startMatcher();
        await waitFor(() => got().length + refused().length >= N,
                      { timeout: 30000, what: `all ${N} signals delivered or refused` });
        for (const e of refused()) assert.equal(e.data.code, 'unavailable', e.raw);
        assert.equal(got().length + refused().length, N, 'a signal vanished');
        const seqs = got().map((m) => m.data.payload.burst);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'signals reordered');
        assert.equal(new Set(seqs).size, seqs.length, 'a signal delivered twice');
        assert.ok(got().length >= 900, `only ${got().length} of the queued signals arrived`);
        const dropsAfter = await drops();
        assert.ok(dropsAfter - dropsBefore >= refused().length,
                  `bus drops ${dropsBefore} -> ${dropsAfter}, ${refused().length} refused`);
        process.stderr.write(`# congestion: ${got().length} delivered, ` +
                             `${refused().length} refused, drops +${dropsAfter - dropsBefore}\n`);
        for (const id of ['gw-a', 'gw-b', 'gw-h']) await stack.waitReady(stack.gw(id));
    });
});
