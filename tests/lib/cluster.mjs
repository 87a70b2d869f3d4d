//  cluster - a private Redis Cluster for integration tests: three
//  `redis-server --cluster-enabled yes` masters on loopback (free ports),
//  joined with `redis-cli --cluster create`, optionally one replica of the
//  master that owns the slot of the "{megle}" hash tag (for failover
//  tests). Every file (nodes-P.conf, ...) lives in one temporary directory
//  that stop() removes. Nothing sleeps: every wait is waitFor (a condition
//  and a deadline).
//
//  Used by stack.mjs (opts.redis === 'cluster' or MEGLE_TEST_REDIS=cluster)
//  and directly by tests/it/cluster.test.mjs.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Proc, Resp, waitFor, freePort } from './stack.mjs';

//  The key every megle key shares its slot with.
export const MEGLE_TAG_KEY = '{megle}:q';

//  Run redis-cli (or any command) to completion; resolves its output,
//  rejects with it on a non-zero exit or after timeout ms.
function run(argv, timeout = 60000) {
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1),
                            { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c) => { out += c; });
        child.stderr.on('data', (c) => { out += c; });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
        child.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(out);
            else reject(new Error(`${argv.join(' ')}: exit ${code} ${signal || ''}\n${out}`));
        });
    });
}

//  One line of CLUSTER NODES, parsed.
function parseNode(line) {
    const f = line.split(' ');
    const [hostport] = f[1].split('@');
    const colon = hostport.lastIndexOf(':');
    const ranges = [];
    for (const s of f.slice(8)) {
        if (s.startsWith('[')) continue; //  [slot->-node] migration marks
        const [a, b] = s.split('-').map(Number);
        ranges.push([a, b === undefined ? a : b]);
    }
    return {
        id: f[0],
        host: hostport.slice(0, colon),
        port: Number(hostport.slice(colon + 1)),
        flags: f[2].split(','),
        master: f[3],
        ranges,
    };
}

export class Cluster {
    //  procs: an array the redis-server Procs are pushed to as well (the
    //  stack's, so that they appear in its failure report).
    constructor({ procs = [] } = {}) {
        this.procs = procs;
        this.nodes = []; //  { port, proc, role }
        this.dir = null;
        this.clients = [];
    }

    async startNode(role) {
        const port = await freePort();
        const proc = new Proc(`redis ${role} ${port}`, [
            'redis-server', '--port', String(port), '--bind', '127.0.0.1',
            '--cluster-enabled', 'yes',
            '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`),
            //  Manual failovers and migrations only: no failover because a
            //  node on a loaded test machine was slow to answer.
            '--cluster-node-timeout', '15000',
            '--dir', this.dir, '--save', '', '--appendonly', 'no',
            '--daemonize', 'no'], {});
        this.procs.push(proc);
        const node = { port, proc, role };
        this.nodes.push(node);
        await waitFor(async () => {
            if (!proc.alive) throw new Error(`redis-server exited ${JSON.stringify(proc.exited)}`);
            const r = await this.client(port);
            return (await r.call('PING')) === 'PONG';
        }, { timeout: 10000, what: `redis-server ${port} PING` });
        return node;
    }

    //  Start three masters (and the replica if asked) and wait until every
    //  node says cluster_state:ok.
    async start({ replica = false } = {}) {
        this.dir = mkdtempSync(path.join(os.tmpdir(), 'megle-cluster-'));
        for (let i = 0; i < 3; i++) await this.startNode('master');
        await run(['redis-cli', '--cluster', 'create',
                   ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
                   '--cluster-replicas', '0', '--cluster-yes']);
        await this.waitOk();
        this.slot = await (await this.client(this.nodes[0].port))
            .call('CLUSTER', 'KEYSLOT', MEGLE_TAG_KEY);
        if (replica) {
            const owner = await this.owner();
            const node = await this.startNode('replica');
            await run(['redis-cli', '--cluster', 'add-node',
                       `127.0.0.1:${node.port}`, `127.0.0.1:${owner.port}`,
                       '--cluster-slave', '--cluster-master-id', owner.id]);
            this.replicaPort = node.port;
            const r = await this.client(node.port);
            await waitFor(async () => {
                const info = await r.call('INFO', 'replication');
                return /master_link_status:up/.test(info) &&
                    /role:slave/.test(info);
            }, { timeout: 30000, what: 'replica in sync' });
            await this.waitOk();
        }
        return this;
    }

    //  A RESP connection to the node on port, closed by stop().
    async client(port) {
        const r = await Resp.connect(port);
        this.clients.push(r);
        return r;
    }

    //  Every node says cluster_state:ok.
    async waitOk(timeout = 30000) {
        await waitFor(async () => {
            for (const n of this.nodes) {
                const r = await this.client(n.port);
                const info = await r.call('CLUSTER', 'INFO');
                r.close();
                if (!/cluster_state:ok/.test(info)) return false;
            }
            return true;
        }, { timeout, interval: 50, what: 'cluster_state:ok on every node' });
    }

    //  CLUSTER NODES as seen from the node on port (default: the first).
    async view(port = this.nodes[0].port) {
        const r = await this.client(port);
        const text = await r.call('CLUSTER', 'NODES');
        r.close();
        return text.split('\n').filter((l) => l.trim()).map(parseNode);
    }

    //  The master that owns slot (default: the {megle} slot), as seen from
    //  the node on port.
    async owner(slot = this.slot, port) {
        const nodes = await this.view(port);
        const owner = nodes.find((n) => n.flags.includes('master') &&
            n.ranges.some(([a, b]) => slot >= a && slot <= b));
        if (!owner) throw new Error(`no owner of slot ${slot}`);
        return owner;
    }

    //  A master that does not own slot (default: the {megle} slot).
    async nonOwner(slot = this.slot) {
        const owner = await this.owner(slot);
        const nodes = await this.view();
        return nodes.find((n) => n.flags.includes('master') &&
                          n.id !== owner.id);
    }

    //  Wait until every node agrees that the master on port owns slot.
    async waitOwner(port, slot = this.slot, timeout = 30000) {
        await waitFor(async () => {
            for (const n of this.nodes) {
                if (!n.proc.alive) continue;
                if ((await this.owner(slot, n.port)).port !== port) return false;
            }
            return true;
        }, { timeout, interval: 50, what: `every node: ${port} owns slot ${slot}` });
    }

    node(port) {
        return this.nodes.find((n) => n.port === port);
    }

    async stop() {
        for (const r of this.clients) r.close();
        this.clients = [];
        for (const n of this.nodes) await n.proc.stop();
        if (this.dir) rmSync(this.dir, { recursive: true, force: true });
        this.dir = null;
    }
}

export async function startCluster(opts = {}) {
    const cluster = new Cluster(opts);
    try {
        await cluster.start(opts);
    } catch (err) {
        await cluster.stop().catch(() => {});
        throw err;
    }
    return cluster;
}
