//  load - many clients at once against real processes: 500 simultaneous
//  find_match must give exactly 250 consistent pairs and leave Redis clean
//  once everyone disconnects; a burst of 10,000 signals arrives complete,
//  exactly once and in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, guarded, waitFor } from '../lib/stack.mjs';

let stack;
const test = (name, fn, timeout = 120000) =>
    it(name, { timeout }, guarded(() => stack, fn));

//  Connect n clients, alternating gateways, a batch at a time.
async function connectMany(n, gws, batch = 50) {
    const clients = [];
    for (let i = 0; i < n; i += batch) {
        const part = [];
        for (let j = i; j < Math.min(n, i + batch); j++) {
            part.push(stack.client(gws[j % gws.length], { timeout: 15000 }));
        }
        clients.push(...(await Promise.all(part)));
    }
    return clients;
}

describe('load', () => {
    before(async () => {
        stack = await startStack({ gateways: ['gw-a', 'gw-b'] });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('10. 500 simultaneous find_match -> exactly 250 pairs; Redis clean after', async () => {
        const N = 500;
        const clients = await connectMany(N, ['gw-a', 'gw-b']);
        const byId = new Map(clients.map((c) => [c.id, c]));
        assert.equal(byId.size, N, 'session ids must be unique');

        for (const c of clients) c.send('find_match');
        const found = await Promise.all(clients.map((c) =>
            c.next('match_found', { timeout: 60000 })));

        const matchOf = new Map();
        let initiators = 0;
        for (let i = 0; i < N; i++) {
            const c = clients[i];
            const { partner_id: pid, match_id: mid, initiator } = found[i].data;
            assert.notEqual(pid, c.id, 'matched with itself');
            const p = byId.get(pid);
            assert.ok(p, `partner ${pid} is not one of ours`);
            const back = found[clients.indexOf(p)].data;
            assert.equal(back.partner_id, c.id, 'partner relation not symmetric');
            assert.equal(back.match_id, mid, 'match ids differ inside a pair');
            assert.notEqual(back.initiator, initiator, 'exactly one initiator per pair');
            if (initiator) initiators++;
            if (matchOf.has(mid)) {
                assert.deepEqual([...matchOf.get(mid), c.id].length, 2);
            }
            matchOf.set(mid, [...(matchOf.get(mid) || []), c.id]);
        }
        assert.equal(matchOf.size, N / 2, 'exactly N/2 distinct matches');
        assert.equal(initiators, N / 2);

        //  Barrier on every pair, then nobody has a second match_found.
        const pairs = clients.filter((c, i) => found[i].data.initiator);
        await Promise.all(pairs.map(async (x) => {
            const y = byId.get(found[clients.indexOf(x)].data.partner_id);
            x.signal(y.id, 'candidate', { barrier: x.id });
            y.signal(x.id, 'candidate', { barrier: y.id });
            const [sy, sx] = await Promise.all([y.next('signal', { timeout: 30000 }),
                                                x.next('signal', { timeout: 30000 })]);
            assert.deepEqual(sy.data.payload, { barrier: x.id });
            assert.deepEqual(sx.data.payload, { barrier: y.id });
        }));
        for (const c of clients) {
            assert.equal(c.events('match_found').length, 1, `${c.name()} matched twice`);
            assert.deepEqual(c.pending().filter((m) => m.event !== 'waiting').map((m) => m.raw), []);
        }

        //  Redis agrees while they are connected.
        const r = stack.redis;
        assert.equal(await r.call('SCARD', '{megle}:q:video'), 0);
        assert.equal(await r.call('SCARD', '{megle}:gw:gw-a'), N / 2);
        assert.equal(await r.call('SCARD', '{megle}:gw:gw-b'), N / 2);
        const sample = clients.slice(0, 20);
        for (const c of sample) {
            const s = await r.hgetall(`{megle}:s:${c.id}`);
            assert.equal(s.state, 'matched');
            assert.equal(s.partner, found[clients.indexOf(c)].data.partner_id);
            assert.equal(s.gw, c.gateway);
        }

        //  Everyone leaves: Redis holds nothing of them but TTL'd matches.
        await stack.closeClients({ timeout: 30000 });
        await waitFor(async () =>
            (await r.call('SCARD', '{megle}:q:video')) === 0 &&
            (await r.scan('{megle}:s:*')).length === 0 &&
            (await r.call('SCARD', '{megle}:gw:gw-a')) === 0 &&
            (await r.call('SCARD', '{megle}:gw:gw-b')) === 0,
        { timeout: 30000, interval: 100, what: 'Redis cleaned after 500 disconnects' })
            .catch(async (err) => {
                err.message += `\nq=${await r.call('SCARD', '{megle}:q:video')} ` +
                    `sessions=${(await r.scan('{megle}:s:*')).length} ` +
                    `gw-a=${await r.call('SCARD', '{megle}:gw:gw-a')} ` +
                    `gw-b=${await r.call('SCARD', '{megle}:gw:gw-b')}`;
                throw err;
            });
        for (const key of await r.scan('{megle}:m:*')) {
            const ttl = await r.call('TTL', key);
            assert.ok(ttl === -2 || (ttl > 0 && ttl <= 600), `${key} has TTL ${ttl}`);
        }
        //  Nothing outside the {megle}: namespace either.
        const stray = (await r.scan('*')).filter((k) => !k.startsWith('{megle}:'));
        assert.deepEqual(stray, []);
    }, 150000);

    test('11. 10,000 signals between 10 pairs: complete, exactly once, in order', async () => {
        const PAIRS = 10;
        const PER = 1000;
        const pairs = [];
        for (let i = 0; i < PAIRS; i++) {
            pairs.push(await stack.pair(i % 2 ? 'gw-a' : 'gw-b', i % 2 ? 'gw-b' : 'gw-a'));
        }
        const started = Date.now();
        //  As fast as possible: all 10,000 queued in one go, interleaved.
        for (let i = 0; i < PER; i++) {
            for (const { x, y } of pairs) {
                x.signal(y.id, 'candidate', { seq: i, candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${1024 + i} typ host` });
            }
        }
        const fromX = (p) => p.y.log.filter((m) => m.event === 'signal' && m.data.sender_id === p.x.id);
        await waitFor(() => pairs.every((p) => fromX(p).length >= PER), {
            timeout: 60000, interval: 50,
            what: 'all 10,000 signals',
        }).catch((err) => {
            err.message += '\nreceived per pair: ' + pairs.map((p) => fromX(p).length).join(',');
            throw err;
        });
        const elapsed = Date.now() - started;
        for (const p of pairs) {
            const seqs = fromX(p).map((m) => m.data.payload.seq);
            assert.deepEqual(seqs, [...Array(PER).keys()], 'lost, duplicated or reordered');
        }
        //  Exactly once: after a barrier, still exactly PER.
        for (const { x, y } of pairs) {
            y.signal(x.id, 'answer', { barrier: true });
            await x.next((m) => m.event === 'signal' && m.data.payload?.barrier === true,
                         { timeout: 10000 });
            x.signal(y.id, 'answer', { barrier: true });
            await waitFor(() => y.log.some((m) => m.event === 'signal' && m.data.payload?.barrier === true),
                          { timeout: 10000, what: 'barrier' });
        }
        for (const p of pairs) {
            assert.equal(fromX(p).length, PER + 1);
            assert.equal(p.x.events('error').length + p.y.events('error').length, 0);
        }
        process.stderr.write(`# 10,000 signals delivered in ${elapsed} ms\n`);
    }, 90000);
});
