//  drive - the client side of tests/compose/compose.sh: WebSocket clients
//  through the compose stack's balancer (127.0.0.1 only), against a stack
//  already up with 3 gateways. Shows:
//    1. clients spread over the 3 gateways and are matched across them,
//       signals relay both ways, payload byte-for-byte;
//    2. `docker compose up --scale gateway=4` adds a gateway that the
//       balancer picks up without a restart and that takes new clients,
//       while the clients already connected stay connected.
//  Which gateway serves a client is read from the matcher's session hash
//  in Redis ({megle}:s:<id> field gw), through `docker compose exec`.
//
//  With DRIVE_MODE=split (compose/matcher-host.yml + gateway-host.yml, two
//  projects), only step 1, with 2 gateways; Redis is then in the project
//  REDIS_PROJECT of the file REDIS_FILE_PATH.
//
//  Environment: MEGLE_PORT (balancer port), COMPOSE_PROJECT, COMPOSE_FILE_PATH.
//  Exit 0 on success; every wait is bounded.

import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

import { connect, rawPayload } from '../lib/client.mjs';
import { waitFor } from '../lib/stack.mjs';

const PORT = process.env.MEGLE_PORT;
const PROJECT = process.env.COMPOSE_PROJECT;
const FILE = process.env.COMPOSE_FILE_PATH;
if (!PORT || !PROJECT || !FILE) {
    console.error('drive: MEGLE_PORT, COMPOSE_PROJECT and COMPOSE_FILE_PATH must be set');
    process.exit(2);
}
const URL = `ws://127.0.0.1:${PORT}/ws`;
const SPLIT = process.env.DRIVE_MODE === 'split';
const REDIS_PROJECT = process.env.REDIS_PROJECT || PROJECT;
const REDIS_FILE = process.env.REDIS_FILE_PATH || FILE;

function log(msg) {
    console.log(`drive: ${msg}`);
}

function compose(args, { input, timeout = 60000, project = PROJECT, file = FILE } = {}) {
    return execFileSync('docker', ['compose', '-p', project, '-f', file, ...args],
        { input, timeout, encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'] });
}

//  One redis-cli run for a batch of commands; one reply line each.
function redis(commands) {
    const out = compose(['exec', '-T', 'redis', 'redis-cli', '--raw'],
        { input: commands.map((c) => c.join(' ')).join('\n') + '\n', timeout: 20000,
          project: REDIS_PROJECT, file: REDIS_FILE });
    return out.split('\n');
}

async function gatewaysOf(clients) {
    return waitFor(() => {
        const lines = redis(clients.map((c) => ['HGET', `{megle}:s:${c.id}`, 'gw']));
        const gws = clients.map((_, i) => lines[i] || '');
        return gws.every(Boolean) ? gws : null;
    }, { timeout: 15000, interval: 200, what: 'sessions in redis' });
}

function liveGateways() {
    return redis([['HKEYS', '{megle}:gws']]).filter(Boolean);
}

const clients = [];

async function open() {
    const c = await connect(URL, { timeout: 10000 });
    clients.push(c);
    [c.gateway] = await gatewaysOf([c]);
    return c;
}

function byGateway(list) {
    const per = {};
    for (const c of list) per[c.gateway] = (per[c.gateway] || 0) + 1;
    return per;
}

async function pairAndRelay(x, y) {
    x.paired = true;
    y.paired = true;
    x.send('find_match');
    await x.next('waiting', { timeout: 10000 });
    y.send('find_match');
    const my = await y.next('match_found', { timeout: 10000 });
    const mx = await x.next('match_found', { timeout: 10000 });
    assert.equal(mx.data.partner_id, y.id);
    assert.equal(my.data.partner_id, x.id);
    const offer = `{"sdp":"v=0 from ${x.gateway}","list":[1, 2.50, "\\u00e9"]}`;
    x.signalRaw(y.id, 'offer', offer);
    const got = await y.next('signal', { timeout: 10000 });
    assert.equal(got.data.sender_id, x.id);
    assert.equal(rawPayload(got), offer);
    y.signal(x.id, 'answer', { sdp: `v=0 from ${y.gateway}` });
    const back = await x.next('signal', { timeout: 10000 });
    assert.equal(back.data.sender_id, y.id);
    assert.deepEqual(back.data.payload, { sdp: `v=0 from ${y.gateway}` });
    log(`matched ${x.id.slice(0, 8)}@${x.gateway} <-> ${y.id.slice(0, 8)}@${y.gateway}, ` +
        'offer/answer relayed');
}

async function main() {
    //  1. Three gateways (split: two): spread, cross-gateway matches, relay.
    const n = SPLIT ? 2 : 3;
    const before = liveGateways();
    assert.equal(before.length, n, `live gateways: ${before}`);
    for (let i = 0; i < 2 * n; i++) await open();
    const per = byGateway(clients);
    log(`${2 * n} clients by gateway: ${JSON.stringify(per)}`);
    assert.equal(Object.keys(per).length, n, `clients did not reach all ${n} gateways`);
    const gws = Object.keys(per);
    const on = (g) => clients.filter((c) => c.gateway === g);
    for (let i = 0; i < n; i++) {
        const x = gws[i];
        const y = gws[(i + 1) % n];
        await pairAndRelay(on(x).find((c) => !c.paired), on(y).find((c) => !c.paired));
    }
    if (SPLIT) {
        await Promise.all(clients.map((c) => c.close()));
        log('ok');
        return;
    }

    //  2. Scale to 4 while those 6 stay connected.
    const lbStarted = compose(['ps', '-q', 'lb']).trim();
    const startedAt = () => execFileSync('docker',
        ['inspect', '-f', '{{.State.StartedAt}}', lbStarted], { encoding: 'utf8' }).trim();
    const lbStart = startedAt();
    log('docker compose up -d --scale gateway=4');
    compose(['up', '-d', '--no-recreate', '--no-build', '--scale', 'gateway=4',
             '--wait', '--wait-timeout', '120'], { timeout: 150000 });
    const fresh = await waitFor(() => {
        const now = liveGateways();
        return now.find((g) => !before.includes(g));
    }, { timeout: 20000, interval: 250, what: 'a 4th gateway in {megle}:gws' });
    log(`new gateway ${fresh}`);
    //  New clients until one lands on it (the balancer re-resolves DNS every
    //  second, holds answers 5 s, and wants 2 good health checks).
    const added = [];
    const landed = await waitFor(async () => {
        const c = await open();
        added.push(c);
        return c.gateway === fresh ? c : null;
    }, { timeout: 45000, interval: 250, what: `a client on ${fresh}` });
    //  leastconn: the newcomer, with the fewest connections, takes the next
    //  ones too.
    for (let i = 0; i < 2; i++) added.push(await open());
    const perAdded = byGateway(added);
    log(`clients opened after scaling, by gateway: ${JSON.stringify(perAdded)}`);
    assert.ok(perAdded[fresh] >= 2, `the new gateway took ${perAdded[fresh]} clients`);
    //  A match between the new gateway and an old one.
    const other = added.find((c) => c.gateway !== fresh) || await waitFor(async () => {
        const c = await open();
        added.push(c);
        return c.gateway !== fresh ? c : null;
    }, { timeout: 20000, interval: 100, what: 'a client on an old gateway' });
    await pairAndRelay(landed, other);
    for (const c of clients.slice(0, 6)) {
        assert.equal(c.closeInfo, null, `client ${c.id} lost its connection`);
    }
    assert.equal(startedAt(), lbStart, 'the balancer was restarted');
    log('balancer not restarted; the first 6 clients still connected');

    await Promise.all(clients.map((c) => c.close()));
    log('ok');
}

const timer = setTimeout(() => {
    console.error('drive: overall deadline (240 s) passed');
    process.exit(1);
}, 240000);
main().then(() => {
    clearTimeout(timer);
    process.exit(0);
}, (err) => {
    console.error(`drive: FAILED: ${err.stack || err}`);
    process.exit(1);
});
