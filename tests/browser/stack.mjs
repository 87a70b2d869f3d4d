// stack - starts a private megle on loopback for the browser tests:
// redis-server, one megle-matcher and N megle-gateways, each on a free
// 127.0.0.1 port, each logging to its own file; waits until every gateway's
// /readyz says 200 (it has heard the matcher), and stops it all again.
// Binary paths come from ctest's environment (MEGLE_GATEWAY_BIN,
// MEGLE_MATCHER_BIN); MEGLE_ARTIFACTS_DIR says where logs go.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from '../lib/ports.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const sourceDir = process.env.MEGLE_SOURCE_DIR ?? path.resolve(here, '..', '..');
export const artifactsDir = process.env.MEGLE_ARTIFACTS_DIR
  ?? path.join(sourceDir, 'tests', 'artifacts');

// Every child we started and have not seen exit; killed if we die first.
const live = new Set();
function killAllNow() {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

// freePort: tests/lib/ports.mjs (re-exported for the browser tests).
export { freePort };

// Poll fn() (async, truthy = done) every intervalMs until timeoutMs passes.
// alive() is called before each try; what it throws ends the wait at once
// (a process we wait for has died).
export async function waitFor(what, fn, { timeoutMs = 20000, intervalMs = 50, alive = () => {} } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    alive();
    try {
      if (await fn())
        return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`
        + (lastError ? ` (last error: ${lastError.message})` : ''));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n'))
        done(buf.startsWith('+PONG'));
    });
  });
}

class Proc {
  constructor(name, cmd, args, env, logDir) {
    this.name = name;
    this.logPath = path.join(logDir, `${name}.log`);
    const fd = fs.openSync(this.logPath, 'w');
    this.child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.exitCode = undefined;
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        this.exitCode = code ?? signal;
        resolve(this.exitCode);
      });
      this.child.on('error', (err) => {
        live.delete(this.child);
        this.exitCode = `spawn error: ${err.message}`;
        resolve(this.exitCode);
      });
    });
  }

  get running() {
    return this.exitCode === undefined;
  }

  // The last lines of its log, for error messages.
  tail(lines = 15) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  assertRunning() {
    if (!this.running)
      throw new Error(`${this.name} exited (${this.exitCode}); log ${this.logPath}:\n${this.tail()}`);
  }

  async stop(timeoutMs = 5000) {
    if (!this.running)
      return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

// Start redis, the matcher and one gateway per entry of `gateways`
// ([{ id, webRoot }]); matcherEnv / gatewayEnv add MEGLE_* knobs (e.g. a
// short MEGLE_INTEREST_WAIT_MS). Returns { gateways: [{ id, url, port }],
// procs, stop() }.
export async function startStack({ name = 'browser', gateways, matcherEnv = {}, gatewayEnv = {} }) {
  const gatewayBin = process.env.MEGLE_GATEWAY_BIN;
  const matcherBin = process.env.MEGLE_MATCHER_BIN;
  if (!gatewayBin || !matcherBin)
    throw new Error('MEGLE_GATEWAY_BIN and MEGLE_MATCHER_BIN must be set (ctest does)');
  const logDir = path.join(artifactsDir, `${name}-logs`);
  fs.mkdirSync(logDir, { recursive: true });

  const procs = [];
  const stack = {
    gateways: [],
    procs,
    logDir,
    // Stop everything; returns the processes that did not exit with 0
    // (crashed, killed, or a sanitizer report) as [{ name, code, log }].
    async stop() {
      // Gateways first (they say bye to the matcher), then the matcher, then Redis.
      const order = [...procs].reverse();
      const bad = [];
      for (const p of order) {
        const wasRunning = p.running;
        await p.stop();
        if (!wasRunning || p.exitCode !== 0)
          bad.push({ name: p.name, code: p.exitCode, log: p.logPath });
      }
      return bad;
    },
  };
  try {
    const redisPort = await freePort();
    const busIn = `tcp://127.0.0.1:${await freePort()}`;
    const busOut = `tcp://127.0.0.1:${await freePort()}`;
    const base = { ...process.env, MEGLE_LOG_LEVEL: 'info' };

    const redis = new Proc('redis', 'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      base, logDir);
    procs.push(redis);
    await waitFor('redis-server to answer PING', () => redisPing(redisPort),
      { alive: () => redis.assertRunning() });

    const matcher = new Proc('matcher', matcherBin, [], {
      ...base,
      MEGLE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      MEGLE_BUS_IN: busIn,
      MEGLE_BUS_OUT: busOut,
      MEGLE_TAP: '',
      MEGLE_MATCHER_HTTP: '', // no fixed port 9091
      ...matcherEnv,
    }, logDir);
    procs.push(matcher);

    const waitReady = (gw) => waitFor(`${gw.id} /readyz`, async () => {
      const res = await fetch(`${gw.url}/readyz`);
      await res.arrayBuffer();
      return res.status === 200;
    }, { alive: () => { matcher.assertRunning(); gw.proc.assertRunning(); } });

    for (const gw of gateways) {
      const port = await freePort();
      const env = {
        ...base,
        MEGLE_BUS_IN: busIn,
        MEGLE_BUS_OUT: busOut,
        MEGLE_HTTP: `127.0.0.1:${port}`,
        MEGLE_GATEWAY_ID: gw.id,
        MEGLE_WEB_ROOT: gw.webRoot,
        MEGLE_TAP: '',
        ...gatewayEnv,
      };
      const proc = new Proc(`gateway-${gw.id}`, gatewayBin, [], env, logDir);
      procs.push(proc);
      stack.gateways.push({ id: gw.id, port, url: `http://127.0.0.1:${port}`, proc, env });
    }
    for (const gw of stack.gateways)
      await waitReady(gw);

    // Stop a gateway (SIGTERM: it drains) and start it again, same id and
    // port; resolves once it is ready. Returns the old process's exit code.
    stack.restartGateway = async (gw) => {
      await gw.proc.stop();
      const code = gw.proc.exitCode;
      procs.splice(procs.indexOf(gw.proc), 1);
      gw.restarts = (gw.restarts ?? 0) + 1;
      gw.proc = new Proc(`gateway-${gw.id}-${gw.restarts}`, gatewayBin, [], gw.env, logDir);
      procs.push(gw.proc);
      await waitReady(gw);
      return code;
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}
