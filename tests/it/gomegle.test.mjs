//  gomegle - the Go-megle React client's exact wire behaviour against
//  megle: ws://host/ws with no subprotocol, its literal messages, "Next"
//  as leave immediately followed by find_match, a requeue 1 s after
//  partner_left (the client's own pacing), and unknown events (welcome,
//  error, ...) ignored. Two such clients meet, negotiate, skip, meet again.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStack, guarded } from '../lib/stack.mjs';
import { connect } from '../lib/client.mjs';

let stack;
const test = (name, fn, timeout = 60000) =>
    it(name, { timeout }, guarded(() => stack, fn));

const GO_EVENTS = ['waiting', 'match_found', 'signal', 'partner_left'];

//  For the test's own checks only (the client ignores welcome): the id the
//  server announced to g.
const idOf = (g) => g.c.log.find((m) => m.event === 'welcome')?.data?.id;

//  A client that only knows Go-megle's four server events; the rest (welcome,
//  error, ...) it ignores, as the React client does.
class GoMegle {
    static async open(gw) {
        const c = await connect(gw.wsUrl, { welcome: false, origin: gw.url });
        c.gateway = gw.id;
        stack.clients.add(c);
        const g = new GoMegle(c);
        return g;
    }

    constructor(c) {
        this.c = c;
        this.partner = null;
    }

    raw(text) {
        this.c.sendRaw(text);
    }

    findMatch(tag) {
        this.raw(tag === undefined ? '{"event":"find_match","data":{}}'
            : `{"event":"find_match","data":{"tag":${JSON.stringify(tag)}}}`);
    }

    //  The "Next" button with a partner: leave, then find_match at once.
    next() {
        this.raw(`{"event":"leave","data":{"target_id":"${this.partner}"}}`);
        this.partner = null;
        this.findMatch();
    }

    offer() {
        this.raw(`{"event":"signal","data":{"target_id":"${this.partner}","type":"offer",` +
                 '"payload":{"type":"offer","sdp":"v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\n' +
                 's=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0 1\\r\\nm=video 9 UDP/TLS/RTP/SAVPF 96\\r\\n"}}}');
    }

    answer() {
        this.raw(`{"event":"signal","data":{"target_id":"${this.partner}","type":"answer",` +
                 '"payload":{"type":"answer","sdp":"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n"}}}');
    }

    candidate(i) {
        this.raw(`{"event":"signal","data":{"target_id":"${this.partner}","type":"candidate",` +
                 `"payload":{"candidate":"candidate:${i} 1 udp 2122260223 127.0.0.1 ${54321 + i} typ host",` +
                 '"sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}}');
    }

    //  The next Go-megle event; anything else is skipped like the client does.
    async recv(event, timeout = 5000) {
        const m = await this.c.next((x) => GO_EVENTS.includes(x.event), { timeout });
        //  The shape the React client reads: {event, data: {...}}.
        assert.equal(typeof m.event, 'string');
        assert.equal(typeof m.data, 'object');
        assert.notEqual(m.data, null);
        if (event) assert.equal(m.event, event, `expected ${event}, got ${m.raw.slice(0, 200)}`);
        if (m.event === 'match_found') this.partner = m.data.partner_id;
        if (m.event === 'partner_left') this.partner = null;
        return m;
    }
}

//  The initiator offers, the other answers; then 3 candidates each way.
async function negotiate(p, q, pm, qm) {
    assert.notEqual(pm.data.initiator, qm.data.initiator);
    const [init, resp] = pm.data.initiator ? [p, q] : [q, p];
    init.offer();
    const o = await resp.recv('signal');
    assert.equal(o.data.sender_id, idOf(init));
    assert.equal(o.data.type, 'offer');
    assert.equal(o.data.payload.type, 'offer');
    assert.match(o.data.payload.sdp, /^v=0\r\no=- 4611731400430051336 /);
    resp.answer();
    const a = await init.recv('signal');
    assert.equal(a.data.sender_id, idOf(resp));
    assert.equal(a.data.type, 'answer');
    assert.equal(a.data.payload.type, 'answer');
    for (let i = 0; i < 3; i++) {
        init.candidate(i);
        resp.candidate(10 + i);
    }
    for (const [who, base] of [[resp, 0], [init, 10]]) {
        for (let i = 0; i < 3; i++) {
            const c = await who.recv('signal');
            assert.equal(c.data.type, 'candidate');
            assert.deepEqual(c.data.payload, {
                candidate: `candidate:${base + i} 1 udp 2122260223 127.0.0.1 ${54321 + base + i} typ host`,
                sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'abcd',
            });
        }
    }
}

describe('Go-megle client compatibility', () => {
    before(async () => {
        stack = await startStack({ gateways: ['gw-a', 'gw-b'] });
    });
    after(async () => {
        if (stack) await stack.stop();
    });

    test('13. two Go-megle clients meet, negotiate, skip with Next and meet again', async () => {
        const p = await GoMegle.open(stack.gw('gw-a'));
        const q = await GoMegle.open(stack.gw('gw-b'));
        assert.equal(p.c.ws.protocol, '', 'no subprotocol negotiated');

        p.findMatch();
        const w = await p.recv('waiting');
        assert.equal(typeof w.data.message, 'string');
        q.findMatch('x');   //  Go-megle's tag is accepted
        const qm = await q.recv('match_found');
        const pm = await p.recv('match_found');
        assert.equal(pm.data.partner_id, idOf(q));
        assert.equal(qm.data.partner_id, idOf(p));
        assert.equal(pm.data.match_id, qm.data.match_id);
        await negotiate(p, q, pm, qm);
        const pId = q.partner;
        const qId = p.partner;

        //  p clicks Next: leave + find_match at once. q is told; p waits.
        p.next();
        const left = await q.recv('partner_left');
        assert.deepEqual(left.data, { from: pId });
        assert.equal((await p.recv()).event, 'waiting');
        //  q requeues about 1 s after partner_left (the client's own pacing).
        await new Promise((r) => setTimeout(r, 1000));
        q.findMatch();
        const qm2 = await q.recv('match_found');
        const pm2 = await p.recv('match_found');
        assert.equal(qm2.data.partner_id, pId);
        assert.equal(pm2.data.partner_id, qId);
        assert.notEqual(pm2.data.match_id, pm.data.match_id);
        await negotiate(p, q, pm2, qm2);

        //  Nothing in Go-megle's vocabulary arrived beyond what we consumed.
        for (const g of [p, q]) {
            assert.deepEqual(g.c.pending().filter((m) => GO_EVENTS.includes(m.event))
                .map((m) => m.raw), []);
            //  Every server message is a JSON {event, data} text frame.
            for (const m of g.c.log) {
                assert.ok(!m.binary && !m.invalid, m.raw);
                assert.equal(typeof m.event, 'string');
            }
        }
    });

    test('13b. Next while waiting, a dropped tab and a second tab all keep the queue consistent', async () => {
        const p = await GoMegle.open(stack.gw('gw-b'));
        p.findMatch();
        await p.recv('waiting');
        //  Impatient clicks while waiting: still one waiting entry.
        p.findMatch();
        await p.recv('waiting');
        assert.equal(await stack.redis.call('SCARD', '{megle}:q:video'), 1);
        const q = await GoMegle.open(stack.gw('gw-a'));
        q.findMatch();
        await q.recv('match_found');
        await p.recv('match_found');
        //  q's tab is closed without a leave: p is told and requeues.
        await q.c.close();
        const left = await p.recv('partner_left');
        assert.equal(typeof left.data.from, 'string');
        await new Promise((r) => setTimeout(r, 1000));
        p.findMatch();
        await p.recv('waiting');
        const r = await GoMegle.open(stack.gw('gw-a'));
        r.findMatch();
        await r.recv('match_found');
        await p.recv('match_found');
        assert.equal(p.partner, idOf(r));
        assert.equal(left.data.from, idOf(q));
    });
});
