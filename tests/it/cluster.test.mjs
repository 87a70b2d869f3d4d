//  cluster - the matcher on Redis Cluster and on a Redis that stops
//  answering (issue 8): real redis-servers (tests/lib/cluster.mjs), one
//  megle-matcher, gateways gw-a and gw-b, WebSocket clients.
//
//  1. failover: a replica of the master that owns the {megle} slot takes
//     over (CLUSTER FAILOVER) while pairs exchange signals and new pairs
//     are matched; the matcher follows MOVED to the new master, reloads
//     its scripts, and matching and signalling resume within a deadline.
//  2. ASK: the {megle} slot is migrated to another master (SETSLOT
//     IMPORTING/MIGRATING, MIGRATE of every key, SETSLOT NODE) while the
//     same traffic runs: calls follow ASK during the migration, MOVED
//     after it, and the matcher ends up on the new owner.
//  3. deadline: a redis-server that accepts but never answers (SIGSTOP):
//     find_match gets `unavailable` within MEGLE_REDIS_TIMEOUT_MS plus
//     slack; after SIGCONT matching works again.
//
//  Throughout: a signal reaches only the partner, once, in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, guarded, waitFor, Resp } from '../lib/stack.mjs';

let stack;
//  A generous Redis deadline: a loaded test machine must not turn the
//  pause of a manual failover, or the matcher's SIGSTOP during the
//  migration, into lost calls (the deadline has its own test below).
const CLUSTER_MATCHER_ENV = { MEGLE_REDIS_TIMEOUT_MS: '10000' };
const test = (name, fn, timeout = 120000) =>
    it(name, { timeout }, guarded(() => stack, fn));

//  A matcher log line of event ev whose fields satisfy pred.
function logged(proc, ev, pred = () => true) {
    return proc.lines.some((l) => {
        if (!l.startsWith('{')) return false;
        try {
            const j = JSON.parse(l);
            return j.event === ev && pred(j);
        } catch {
            return false;
        }
    });
}

//  Background traffic: `pairs` matched pairs signalling back and forth,
//  and one worker matching fresh pairs one after the other. Counts what
//  succeeded; `unavailable` errors (a call lost while Redis switched) are
//  counted, not fatal; anything else wrong is.
class Traffic {
    constructor(stk) {
        this.stack = stk;
        this.running = false;
        this.pairs = [];
        this.signals = 0;
        this.matches = 0;
        this.errors = [];
        this.loops = [];
    }

    async start(pairs = 3) {
        for (let i = 0; i < pairs; i++) {
            const { x, y } = await this.stack.pair('gw-a', 'gw-b');
            this.pairs.push({ x, y, seq: 0 });
        }
        this.running = true;
        for (const p of this.pairs) this.loops.push(this.pingLoop(p));
        this.loops.push(this.matchLoop());
    }

    //  x signals y, waits until it arrived (or x got an error), then y
    //  signals x.
    async pingLoop(p) {
        while (this.running) {
            for (const [from, to] of [[p.x, p.y], [p.y, p.x]]) {
                const seq = ++p.seq;
                const errs = from.events('error').length;
                from.signal(to.id, 'candidate', { seq });
                const got = await waitFor(() => {
                    if (to.log.some((m) => m.event === 'signal' &&
                                    m.data?.payload?.seq === seq)) return 'ok';
                    if (from.events('error').length > errs) return 'error';
                    return null;
                }, { timeout: 30000, interval: 5,
                     what: `signal ${seq} ${from.name()} -> ${to.name()}` });
                if (got === 'ok') this.signals++;
                else this.errors.push(from.events('error').at(-1).raw);
            }
        }
    }

    //  Send find_match until it is answered with one of `want`, retrying
    //  on `unavailable`.
    async find(c, want) {
        for (;;) {
            c.send('find_match');
            const m = await c.next([...want, 'error'], { timeout: 30000 });
            if (m.event !== 'error') return m;
            if (m.data?.code !== 'unavailable') {
                throw new Error(`find_match: ${m.raw}`);
            }
            this.errors.push(m.raw);
            await new Promise((r) => setTimeout(r, 50)); //  client backoff
        }
    }

    async matchLoop() {
        while (this.running) {
            const x = await this.stack.client('gw-a');
            const y = await this.stack.client('gw-b');
            await this.find(x, ['waiting']);
            const my = await this.find(y, ['match_found']);
            const mx = await x.next('match_found', { timeout: 30000 });
            assert.equal(my.data.partner_id, x.id);
            assert.equal(mx.data.partner_id, y.id);
            assert.equal(mx.data.match_id, my.data.match_id);
            this.matches++;
            await Promise.all([x.close(), y.close()]);
            this.stack.clients.delete(x);
            this.stack.clients.delete(y);
        }
    }

    //  Both counters advance by at least n/k within the deadline.
    async progress({ signals = 10, matches = 2, timeout = 30000, what }) {
        const s0 = this.signals;
        const m0 = this.matches;
        await waitFor(() => this.signals >= s0 + signals &&
                      this.matches >= m0 + matches,
                      { timeout, interval: 20, what: `traffic ${what}` });
    }

    async stop() {
        this.running = false;
        await Promise.all(this.loops);
        //  Every signal came from the partner, once, in order.
        for (const { x, y } of this.pairs) {
            for (const [me, partner] of [[x, y], [y, x]]) {
                const sigs = me.events('signal');
                let last = 0;
                for (const m of sigs) {
                    assert.equal(m.data.sender_id, partner.id,
                                 `${me.name()} got a signal from a stranger`);
                    assert.ok(m.data.payload.seq > last,
                              `${me.name()}: signal ${m.data.payload.seq} ` +
                              `after ${last} (duplicate or out of order)`);
                    last = m.data.payload.seq;
                }
            }
        }
    }
}

describe('cluster: failover to a replica of the {megle} master', () => {
    before(async () => {
        stack = await startStack({ redis: 'cluster', clusterReplica: true,
                                   matcherEnv: CLUSTER_MATCHER_ENV });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('the matcher follows MOVED to the new master; traffic resumes', async () => {
        const { cluster, matcher } = stack;
        const oldOwner = await cluster.owner();
        assert.notEqual(oldOwner.port, stack.redisPort,
                        'the matcher must start on a node without the slot');
        await waitFor(() => logged(matcher, 'redis_moved',
                                   (j) => Number(j.port) === oldOwner.port),
                      { timeout: 20000, what: 'the first MOVED, to the owner' });

        const traffic = new Traffic(stack);
        await traffic.start(3);
        await traffic.progress({ what: 'before the failover' });

        const replica = await cluster.client(cluster.replicaPort);
        assert.equal(await replica.call('CLUSTER', 'FAILOVER'), 'OK');
        await cluster.waitOwner(cluster.replicaPort);
        stack.redis.close();
        stack.redis = await Resp.connect(cluster.replicaPort);

        const t0 = Date.now();
        await waitFor(() => logged(matcher, 'redis_moved',
                                   (j) => Number(j.port) === cluster.replicaPort) &&
                      logged(matcher, 'redis_connected',
                             (j) => Number(j.port) === cluster.replicaPort),
                      { timeout: 20000, what: 'matcher moved to the new master' });
        await traffic.progress({ what: 'after the failover', timeout: 20000 });
        const resumed = Date.now() - t0;
        await traffic.stop();
        process.stderr.write(`failover: traffic resumed ${resumed} ms after ` +
                             `the new master took over; ${traffic.signals} ` +
                             `signals, ${traffic.matches} matches, ` +
                             `${traffic.errors.length} unavailable\n`);
        //  Scripts were loaded again on the new master.
        const loads = matcher.lines.filter((l) => l.includes('"redis_scripts_loaded"'));
        assert.ok(loads.length >= 3, 'scripts loaded on seed, owner, new owner');
        //  Lost calls are at worst a few, during the switch.
        assert.ok(traffic.errors.length <= 20,
                  `too many errors: ${traffic.errors.slice(0, 5).join(' ')}`);
    });
});

describe('cluster: migrating the {megle} slot (ASK, then MOVED)', () => {
    before(async () => {
        stack = await startStack({ redis: 'cluster',
                                   matcherEnv: CLUSTER_MATCHER_ENV });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('matching works during and after the migration', async () => {
        const { cluster, matcher } = stack;
        const slot = cluster.slot;
        const src = await cluster.owner();
        const dst = await cluster.nonOwner();
        const third = (await cluster.view()).find((n) =>
            n.flags.includes('master') && n.id !== src.id && n.id !== dst.id);
        const rs = await cluster.client(src.port);
        const rd = await cluster.client(dst.port);

        const traffic = new Traffic(stack);
        await traffic.start(2);
        await traffic.progress({ what: 'before the migration' });

        //  Our scripts touch keys they do not declare (all in the one
        //  slot), so they must never run while the slot's keys are split
        //  between two nodes: the matcher is held (SIGSTOP) for the few
        //  milliseconds it takes to mark the slot and move every key at
        //  once. Clients only see a short delay.
        assert.equal(await rd.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', src.id), 'OK');
        matcher.signal('SIGSTOP');
        let moved = 0;
        try {
            assert.equal(await rs.call('PING'), 'PONG'); //  its calls are in
            assert.equal(await rs.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', dst.id), 'OK');
            for (;;) {
                const keys = await rs.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000);
                if (!keys.length) break;
                assert.equal(await rs.call('MIGRATE', '127.0.0.1', dst.port, '', 0,
                                           10000, 'KEYS', ...keys), 'OK');
                moved += keys.length;
            }
        } finally {
            matcher.signal('SIGCONT');
        }
        assert.ok(moved > 0, 'keys were migrated');

        //  The slot is half-way: every call is ASKed to the new node.
        await waitFor(() => logged(matcher, 'redis_ask_connect',
                                   (j) => Number(j.port) === dst.port),
                      { timeout: 20000, what: 'ASK connection to the importing node' });
        await traffic.progress({ what: 'during the migration (ASK)' });
        assert.ok(!logged(matcher, 'redis_moved', (j) => Number(j.port) === dst.port),
                  'no MOVED before the slot is given away');

        for (const n of [dst, src, third]) {
            const r = await cluster.client(n.port);
            assert.equal(await r.call('CLUSTER', 'SETSLOT', slot, 'NODE', dst.id), 'OK');
        }
        await cluster.waitOwner(dst.port);
        stack.redis.close();
        stack.redis = await Resp.connect(dst.port);

        await waitFor(() => logged(matcher, 'redis_moved',
                                   (j) => Number(j.port) === dst.port) &&
                      logged(matcher, 'redis_connected',
                             (j) => Number(j.port) === dst.port),
                      { timeout: 20000, what: 'matcher moved to the new owner' });
        await traffic.progress({ what: 'after the migration' });
        await traffic.stop();
        process.stderr.write(`migration: ${moved} keys; ${traffic.signals} ` +
                             `signals, ${traffic.matches} matches, ` +
                             `${traffic.errors.length} unavailable\n`);
        assert.equal(traffic.errors.length, 0,
                     `errors: ${traffic.errors.slice(0, 5).join(' ')}`);
        assert.equal(await rs.call('CLUSTER', 'COUNTKEYSINSLOT', slot), 0);
    });
});

describe('deadline: a Redis that accepts but never answers', () => {
    const TIMEOUT_MS = 1000;
    before(async () => {
        stack = await startStack({
            matcherEnv: { MEGLE_REDIS_TIMEOUT_MS: String(TIMEOUT_MS) },
        });
    });
    after(async () => {
        if (stack) {
            stack.redisProc.signal('SIGCONT');
            await stack.stop();
        }
    });

    test('find_match gets unavailable in time; matching resumes after SIGCONT', async () => {
        const { x, y } = await stack.pair('gw-a', 'gw-b');
        const c = await stack.client('gw-a');
        stack.redisProc.signal('SIGSTOP');
        let t0;
        try {
            t0 = Date.now();
            c.send('find_match');
            const m = await c.next(['error', 'waiting', 'match_found'],
                                   { timeout: TIMEOUT_MS + 10000 });
            const took = Date.now() - t0;
            assert.equal(m.event, 'error', `got ${m.raw}`);
            assert.equal(m.data.code, 'unavailable');
            //  deadline + the check interval + a loaded machine's slack
            assert.ok(took <= TIMEOUT_MS + 5000, `unavailable after ${took} ms`);
            assert.ok(logged(stack.matcher, 'redis_timeout'), 'redis_timeout logged');
            //  A signal in a match is refused the same way, not lost silently.
            x.signal(y.id, 'candidate', { frozen: 1 });
            const e = await x.next('error', { timeout: TIMEOUT_MS + 10000 });
            assert.equal(e.data.code, 'unavailable');
        } finally {
            stack.redisProc.signal('SIGCONT');
        }
        //  What Redis still ran from the dropped connection (c's find) is
        //  undone by c's close; wait for an empty queue, then match.
        await stack.closeClients({ timeout: 30000 });
        const traffic = new Traffic(stack);
        await waitFor(async () => {
            const a = await stack.client('gw-a');
            a.send('find_match');
            const m = await a.next(['waiting', 'error'], { timeout: 10000 });
            await a.close();
            stack.clients.delete(a);
            return m.event === 'waiting';
        }, { timeout: 30000, interval: 100, what: 'find_match answered again' });
        await stack.closeClients({ timeout: 10000 });
        await traffic.start(1);
        await traffic.progress({ signals: 4, matches: 1, what: 'after SIGCONT' });
        await traffic.stop();
    });
});
