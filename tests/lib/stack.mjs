//  stack - runs a private megle stack for integration tests: one redis-server,
//  one megle-matcher (or opts.matchers of them) and N megle-gateway processes
//  on loopback, each on a free port, and stops all of them again (also when
//  a test fails or the test process exits). Binaries come from
//  MEGLE_GATEWAY_BIN and MEGLE_MATCHER_BIN (set by ctest, see
//  tests/integration.cmake).
//
//  Nothing here sleeps for synchronisation: every wait is "until a
//  condition holds or a deadline passes" (waitFor).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AssertionError } from 'node:assert';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect } from './client.mjs';
import { freePort } from './ports.mjs';
import { startCluster } from './cluster.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR =
    process.env.MEGLE_SOURCE_DIR || path.resolve(HERE, '..', '..');

//  setpriv --pdeathsig KILL makes the kernel kill a server when this test
//  process dies, however it dies (ctest timeout, SIGKILL): no leftovers.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

//  Every child of this process, so that an exit of any kind kills them.
const LIVE = new Set();
process.on('exit', () => {
    for (const child of LIVE) {
        try {
            child.kill('SIGKILL');
        } catch {
            //  already gone
        }
    }
});
for (const [sig, num] of [['SIGHUP', 1], ['SIGINT', 2], ['SIGTERM', 15]]) {
    process.on(sig, () => process.exit(128 + num));
}

function requireEnv(name) {
    const value = process.env[name];
    if (!value) {
        throw new Error(`${name} is not set: run the integration tests ` +
                        'through ctest (tests/integration.cmake sets it)');
    }
    if (!existsSync(value)) throw new Error(`${name}=${value} does not exist`);
    return value;
}

//  ---------------------------------------------------------------------
//  Waiting

export async function waitFor(fn, { timeout = 5000, interval = 15,
                                    what = 'condition' } = {}) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            last = await fn();
            if (last) return last;
        } catch (err) {
            //  A failed assertion inside the condition is final.
            if (err instanceof AssertionError) throw err;
            last = err;
        }
        if (Date.now() > deadline) {
            const detail = last instanceof Error ? `: ${last.message}` : '';
            throw new Error(`timed out after ${timeout} ms waiting for ` +
                            `${what}${detail}`);
        }
        await new Promise((r) => setTimeout(r, interval));
    }
}

//  ---------------------------------------------------------------------
//  Ports

//  freePort: tests/lib/ports.mjs (re-exported for the tests).
export { freePort };

//  ---------------------------------------------------------------------
//  A tiny RESP (Redis protocol) client: enough for PING, SCAN, SMEMBERS,
//  HGETALL, TTL, ... Replies: simple string and bulk -> string, integer ->
//  number, nil -> null, array -> array, error -> rejected promise.

export class Resp {
    static connect(port, host = '127.0.0.1') {
        return new Promise((resolve, reject) => {
            const sock = net.connect(port, host);
            sock.once('connect', () => {
                sock.removeListener('error', reject);
                resolve(new Resp(sock));
            });
            sock.once('error', reject);
        });
    }

    constructor(sock) {
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        this.pending = [];
        this.dead = null;
        sock.on('data', (chunk) => {
            this.buf = Buffer.concat([this.buf, chunk]);
            this.drain();
        });
        const fail = (err) => {
            this.dead = err || new Error('redis connection closed');
            for (const p of this.pending.splice(0)) p.reject(this.dead);
        };
        sock.on('error', fail);
        sock.on('close', () => fail());
    }

    call(...args) {
        if (this.dead) return Promise.reject(this.dead);
        const parts = [`*${args.length}\r\n`];
        for (const a of args) {
            const s = Buffer.from(String(a));
            parts.push(`$${s.length}\r\n`, s, '\r\n');
        }
        const out = Buffer.concat(parts.map((p) =>
            (Buffer.isBuffer(p) ? p : Buffer.from(p))));
        return new Promise((resolve, reject) => {
            this.pending.push({ resolve, reject });
            this.sock.write(out);
        });
    }

    drain() {
        while (this.pending.length) {
            const r = Resp.parse(this.buf, 0);
            if (!r) return;
            this.buf = this.buf.subarray(r.end);
            const p = this.pending.shift();
            if (r.value instanceof Error) p.reject(r.value);
            else p.resolve(r.value);
        }
    }

    //  Parse one reply at offset; returns {value, end} or null if incomplete.
    static parse(buf, off) {
        const eol = buf.indexOf('\r\n', off);
        if (eol < 0) return null;
        const type = String.fromCharCode(buf[off]);
        const line = buf.toString('utf8', off + 1, eol);
        const next = eol + 2;
        switch (type) {
        case '+': return { value: line, end: next };
        case '-': return { value: new Error(line), end: next };
        case ':': return { value: Number(line), end: next };
        case '$': {
            const n = Number(line);
            if (n < 0) return { value: null, end: next };
            if (buf.length < next + n + 2) return null;
            return { value: buf.toString('utf8', next, next + n),
                     end: next + n + 2 };
        }
        case '*': {
            const n = Number(line);
            if (n < 0) return { value: null, end: next };
            const items = [];
            let at = next;
            for (let i = 0; i < n; i++) {
                const r = Resp.parse(buf, at);
                if (!r) return null;
                items.push(r.value);
                at = r.end;
            }
            return { value: items, end: at };
        }
        default:
            throw new Error(`RESP: unexpected reply type ${JSON.stringify(type)}`);
        }
    }

    //  Every key matching pattern (SCAN, not KEYS).
    async scan(pattern) {
        const keys = new Set();
        let cursor = '0';
        do {
            const [next, batch] = await this.call('SCAN', cursor, 'MATCH',
                                                  pattern, 'COUNT', 1000);
            for (const k of batch) keys.add(k);
            cursor = next;
        } while (cursor !== '0');
        return [...keys].sort();
    }

    async hgetall(key) {
        const flat = await this.call('HGETALL', key);
        const obj = {};
        for (let i = 0; i + 1 < flat.length; i += 2) obj[flat[i]] = flat[i + 1];
        return obj;
    }

    close() {
        this.sock.destroy();
    }
}

//  ---------------------------------------------------------------------
//  Processes

export class Proc {
    constructor(name, argv, env) {
        this.name = name;
        this.lines = [];
        this.exited = null;
        const [cmd, ...args] = SETPRIV
            ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...argv]
            : argv;
        this.child = spawn(cmd, args, {
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        LIVE.add(this.child);
        this.pid = this.child.pid;
        let partial = { out: '', err: '' };
        const take = (which) => (chunk) => {
            const text = partial[which] + chunk.toString('utf8');
            const lines = text.split('\n');
            partial[which] = lines.pop();
            for (const l of lines) this.push(l);
        };
        this.child.stdout.on('data', take('out'));
        this.child.stderr.on('data', take('err'));
        this.done = new Promise((resolve) => {
            this.child.on('exit', (code, signal) => {
                LIVE.delete(this.child);
                for (const w of ['out', 'err']) {
                    if (partial[w]) this.push(partial[w]);
                    partial[w] = '';
                }
                this.exited = { code, signal };
                resolve(this.exited);
            });
            this.child.on('error', (err) => {
                LIVE.delete(this.child);
                this.push(`spawn error: ${err.message}`);
                this.exited = { code: -1, signal: null, error: err };
                resolve(this.exited);
            });
        });
    }

    push(line) {
        this.lines.push(line);
        if (this.lines.length > 5000) this.lines.splice(0, 1000);
    }

    get alive() {
        return this.exited === null;
    }

    tail(n = 50) {
        return this.lines.slice(-n);
    }

    signal(sig) {
        if (this.alive) this.child.kill(sig);
    }

    //  SIGTERM, then SIGKILL once the deadline passes.
    async stop(deadline = 5000) {
        if (!this.alive) return this.exited;
        this.child.kill('SIGTERM');
        let timer;
        const killed = new Promise((resolve) => {
            timer = setTimeout(() => {
                this.push(`[harness] still alive ${deadline} ms after ` +
                          'SIGTERM: SIGKILL');
                this.signal('SIGKILL');
                resolve();
            }, deadline);
        });
        await Promise.race([this.done, killed]);
        clearTimeout(timer);
        return this.done;
    }
}

function httpGet(port, urlPath, timeout = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: urlPath,
                               timeout, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({
                status: res.statusCode,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
            }));
            res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('http timeout')));
        req.on('error', reject);
    });
}

//  Parse Prometheus text into { 'name{labels}': number }.
export function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const m = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
        if (m) out[m[1]] = Number(m[2]);
    }
    return out;
}

//  ---------------------------------------------------------------------
//  The stack

export class Stack {
    constructor(opts) {
        this.opts = opts;
        this.procs = [];
        this.gateways = new Map();
        this.clients = new Set();
        this.redis = null;
        this.matcher = null; //  = matchers[0], for the one-matcher suites
        this.matchers = [];
        this.stopped = false;
    }

    //  Start redis-server (on port, or a free one) and connect this.redis.
    //  A three-master Redis Cluster instead of one redis-server
    //  (tests/lib/cluster.mjs; opts.redis === 'cluster' or
    //  MEGLE_TEST_REDIS=cluster): the matcher is pointed at a master that
    //  does NOT own the {megle} slot, so it must follow MOVED; this.redis
    //  talks to the owner. opts.clusterReplica adds a replica of the owner.
    async startCluster() {
        this.cluster = await startCluster({ procs: this.procs,
                                            replica: !!this.opts.clusterReplica });
        this.redisPort = (await this.cluster.nonOwner()).port;
        this.redis = await Resp.connect((await this.cluster.owner()).port);
    }

    async startRedis(port) {
        this.redisPort = port || await freePort();
        const p = new Proc('redis', ['redis-server', '--port', this.redisPort,
                                     '--bind', '127.0.0.1', '--save', '',
                                     '--appendonly', 'no',
                                     '--daemonize', 'no'], {});
        this.procs.push(p);
        this.redisProc = p;
        this.redis = await waitFor(async () => {
            if (!p.alive) throw new Error(`redis-server exited ${JSON.stringify(p.exited)}`);
            const r = await Resp.connect(this.redisPort);
            try {
                if ((await r.call('PING')) === 'PONG') return r;
            } catch {
                //  loading
            }
            r.close();
            return null;
        }, { timeout: 10000, what: 'redis-server PING' });
    }

    //  The environment of matcher i (its own bus endpoints and id; /metrics
    //  on matcherHttpPorts[i] if opts.matcherHttp).
    matcherEnv(i = 0) {
        const httpPort = this.matcherHttpPorts && this.matcherHttpPorts[i];
        return {
            MEGLE_REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
            MEGLE_BUS_IN: this.busIns[i],
            MEGLE_BUS_OUT: this.busOuts[i],
            MEGLE_TAP: '',
            MEGLE_LOG_LEVEL: 'info',
            MEGLE_HEARTBEAT_MS: '200',
            MEGLE_GATEWAY_TIMEOUT_MS: '1500',
            MEGLE_MATCHER_ID: i === 0 ? 'm-test' : `m-test-${i}`,
            //  no fixed port 9091 (it.ops sets one)
            MEGLE_MATCHER_HTTP: httpPort ? `127.0.0.1:${httpPort}` : '',
            ...(this.opts.matcherEnv || {}),
        };
    }

    //  Start (or restart) matcher i.
    startMatcher(i = 0) {
        const bin = requireEnv('MEGLE_MATCHER_BIN');
        const p = new Proc(i === 0 ? 'matcher' : `matcher ${i}`, [bin],
                           this.matcherEnv(i));
        this.procs.push(p);
        this.matchers[i] = p;
        if (i === 0) this.matcher = p;
        return p;
    }

    //  kill -9 matcher i and wait until it is gone.
    async killMatcher(i) {
        this.matchers[i].signal('SIGKILL');
        return this.matchers[i].done;
    }

    //  SIGTERM matcher i (SIGKILL after the deadline) and wait.
    async stopMatcher(i) {
        return this.matchers[i].stop();
    }

    //  matcher i's /metrics (needs opts.matcherHttp), parsed.
    async matcherMetrics(i) {
        const port = this.matcherHttpPorts && this.matcherHttpPorts[i];
        if (!port) throw new Error('matcherMetrics: start with matcherHttp');
        return parseMetrics((await httpGet(port, '/metrics')).body);
    }

    //  Start a gateway with the given id; resolves once /readyz says 200
    //  (unless wait is false). port: listen there (default: a free one).
    async addGateway(id, env = {}, { port: fixedPort, wait = true } = {}) {
        const bin = requireEnv('MEGLE_GATEWAY_BIN');
        const port = fixedPort || await freePort();
        const p = new Proc(`gateway ${id}`, [bin], {
            MEGLE_HTTP: `127.0.0.1:${port}`,
            MEGLE_GATEWAY_ID: id,
            //  every matcher, paired by position
            MEGLE_BUS_IN: this.busIns.join(','),
            MEGLE_BUS_OUT: this.busOuts.join(','),
            MEGLE_WEB_ROOT: path.join(SOURCE_DIR, 'web'),
            MEGLE_HEARTBEAT_MS: '200',
            MEGLE_LOG_LEVEL: 'info',
            MEGLE_IP_SALT: 'integration-test-salt',
            //  The suites send up to thousands of signals back to back from
            //  one client; the rate limits themselves are abuse.test.mjs'.
            MEGLE_RATE_MSGS_BURST: '100000',
            MEGLE_RATE_BYTES_BURST: '100000000',
            ...(this.opts.gatewayEnv || {}),
            ...env,
        });
        this.procs.push(p);
        const gw = {
            id, port, proc: p,
            url: `http://127.0.0.1:${port}`,
            wsUrl: `ws://127.0.0.1:${port}/ws`,
            get: (urlPath) => httpGet(port, urlPath),
            metrics: async () => parseMetrics((await httpGet(port, '/metrics')).body),
        };
        this.gateways.set(id, gw);
        if (wait) await this.waitReady(gw);
        return gw;
    }

    async waitReady(gw, timeout = 10000) {
        await waitFor(async () => {
            if (!gw.proc.alive) {
                throw new Error(`${gw.proc.name} exited ` +
                                JSON.stringify(gw.proc.exited));
            }
            if (this.matchers.length && this.matchers.every((m) => !m.alive)) {
                throw new Error(`matcher exited ${JSON.stringify(this.matcher.exited)}`);
            }
            const res = await httpGet(gw.port, '/readyz', 1000);
            return res.status === 200;
        }, { timeout, interval: 20, what: `${gw.id} /readyz 200` });
    }

    gw(id) {
        const g = this.gateways.get(id);
        if (!g) throw new Error(`no gateway ${id}`);
        return g;
    }

    //  A WebSocket client on gateway id, closed by closeClients()/stop().
    async client(id, opts = {}) {
        const c = await connect(this.gw(id).wsUrl, opts);
        c.gateway = id;
        this.clients.add(c);
        return c;
    }

    //  Two fresh clients on gateways gx and gy, matched with each other:
    //  x queues first (waiting), then y finds and both get match_found.
    //  Needs an empty queue. Returns { x, y, mx, my } (the match_found
    //  messages), with x.partner / y.partner set.
    async pair(gx, gy, opts = {}) {
        const x = await this.client(gx, opts);
        const y = await this.client(gy, opts);
        x.send('find_match');
        await x.next('waiting');
        y.send('find_match');
        const my = await y.next('match_found');
        const mx = await x.next('match_found');
        if (mx.data.partner_id !== y.id || my.data.partner_id !== x.id) {
            throw new Error(`pair: ${x.id} and ${y.id} were not matched ` +
                            `together: ${mx.raw} / ${my.raw}`);
        }
        x.partner = y.id;
        y.partner = x.id;
        return { x, y, mx, my };
    }

    //  Every queue key left: the random queue of each mode, the interest
    //  queues and the relax sets (Redis deletes an empty set).
    async queueKeys() {
        return [...await this.redis.scan('{megle}:q:*'),
                ...await this.redis.scan('{megle}:qi:*'),
                ...await this.redis.scan('{megle}:relax:*')];
    }

    //  Close every client opened so far and wait until the matcher has
    //  emptied every queue, so that the next test starts from a clean
    //  state.
    async closeClients({ timeout = 5000 } = {}) {
        const all = [...this.clients];
        this.clients.clear();
        await Promise.all(all.map((c) => c.close()));
        if (this.matchers.some((m) => m.alive) && this.redis && !this.redis.dead) {
            await waitFor(async () => (await this.queueKeys()).length === 0,
                          { timeout, what: 'no queue keys after closing clients' });
        }
    }

    //  The last lines of every process, for a failure report.
    report(n = 50) {
        const out = [];
        for (const p of this.procs) {
            out.push(`----- ${p.name} (pid ${p.pid}, ` +
                     `${p.alive ? 'alive' : 'exited ' + JSON.stringify(p.exited)}` +
                     `) last ${n} lines -----`);
            out.push(...p.tail(n));
        }
        return out.join('\n');
    }

    async stop() {
        if (this.stopped) return;
        this.stopped = true;
        for (const c of this.clients) c.terminate();
        this.clients.clear();
        if (this.redis) this.redis.close();
        //  Gateways first (they tell the matcher), then matcher, then redis.
        const gws = this.procs.filter((p) => p.name.startsWith('gateway'));
        await Promise.all(gws.map((p) => p.stop()));
        await Promise.all(this.matchers.map((p) => p.stop()));
        for (const p of this.procs) await p.stop();
        if (this.cluster) await this.cluster.stop(); //  its temp dir
        //  Sanitizer reports end up in stderr; surface them.
        const bad = this.procs.filter((p) => p.lines.some((l) =>
            /ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:/.test(l)));
        if (bad.length) {
            throw new Error('sanitizer report in ' +
                            bad.map((p) => p.name).join(', ') + '\n' +
                            this.report(200));
        }
    }
}

//  Start redis, the matcher(s) and the given gateways. opts.gateways: ids;
//  opts.matchers: how many matchers (1), each on its own bus endpoints
//  (stack.busIns[i], stack.busOuts[i]; stack.busIn/busOut are the first's),
//  every gateway given them all; opts.matcherHttp: each matcher serves
//  /metrics on a free port (stack.matcherMetrics (i));
//  opts.matcherEnv / opts.gatewayEnv: extra env for every matcher/gateway.
export async function startStack(opts = {}) {
    const stack = new Stack(opts);
    try {
        const n = opts.matchers || 1;
        stack.busIns = [];
        stack.busOuts = [];
        for (let i = 0; i < n; i++) {
            stack.busIns.push(`tcp://127.0.0.1:${await freePort()}`);
            stack.busOuts.push(`tcp://127.0.0.1:${await freePort()}`);
        }
        stack.busIn = stack.busIns[0];
        stack.busOut = stack.busOuts[0];
        if (opts.matcherHttp) {
            stack.matcherHttpPorts = [];
            for (let i = 0; i < n; i++) stack.matcherHttpPorts.push(await freePort());
        }
        if (opts.redis === 'cluster' || process.env.MEGLE_TEST_REDIS === 'cluster') {
            await stack.startCluster();
        } else {
            await stack.startRedis();
        }
        for (let i = 0; i < n; i++) stack.startMatcher(i);
        for (const id of opts.gateways || ['gw-a', 'gw-b']) {
            await stack.addGateway(id);
        }
    } catch (err) {
        const report = stack.report();
        await stack.stop().catch(() => {});
        err.message += '\n' + report;
        throw err;
    }
    return stack;
}

//  Wrap a test body: on failure, append the processes' last log lines to
//  the error; always close the test's clients (and wait for an empty queue).
export function guarded(getStack, fn) {
    return async (t) => {
        const stack = getStack();
        let failed = false;
        try {
            await fn(t, stack);
        } catch (err) {
            failed = true;
            if (stack) process.stderr.write(`\n${stack.report()}\n`);
            throw err;
        } finally {
            if (stack && !stack.stopped) {
                try {
                    await stack.closeClients();
                } catch (err) {
                    //  A session still queued after its socket closed is a
                    //  ghost: fail the test, unless it failed already.
                    if (!failed) {
                        process.stderr.write(`\n${stack.report()}\n`);
                        throw err;
                    }
                }
            }
        }
    };
}
