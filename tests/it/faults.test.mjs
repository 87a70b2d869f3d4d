//  faults - processes dying under the clients: a gateway killed with
//  SIGKILL (its sessions are cleaned up after MEGLE_GATEWAY_TIMEOUT_MS and
//  partners told), a gateway stopped with SIGTERM (drains: 1001 to its
//  clients, partners told at once), the matcher and Redis restarted.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

const inQueue = async (id) =>
    (await stack.redis.call('SISMEMBER', '{megle}:q:video', id)) === 1;

describe('faults', () => {
    before(async () => {
        stack = await startStack({
            gateways: ['gw-a', 'gw-b'],
            matcherEnv: { MEGLE_GATEWAY_TIMEOUT_MS: '1500', MEGLE_HEARTBEAT_MS: '200' },
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

        g.proc.signal('SIGTERM');
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
});
