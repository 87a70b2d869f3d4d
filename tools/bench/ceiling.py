#!/usr/bin/env python3
"""ceiling - how fast can Redis run megle's Lua scripts, pipelined?

The upper bound for megle-bench's match and relay figures measured on the
same redis-server build, the same day: the matcher's own scripts
(matcher/lua/lib.lua prepended, as matcher/embed_lua.cmake does), sent by
`redis-cli --pipe` (everything in flight at once, so Redis is the only
limit). Untimed set-up opens the sessions; then, timed:
  match: per pair find(a) -> waiting, find(b) -> matched, leave(b):
         the three calls per pair of `megle-bench match`, one EVALSHA each
  batch: the same ops, BATCH at a time in one EVALSHA of batch.lua, as
         megle-matcher sends them (MEGLE_BATCH_MAX): the clock, TTLs and
         block once in the header, each find / leave in its short form
  route: route(a -> b) on matched pairs: the one call per relayed signal,
         one EVALSHA each, then BATCH per batch.lua call
Prints one JSON object.

Around each timed run it also reads Redis's INFO cpu (main thread) and
INFO commandstats, and reports the Redis CPU per pair / per route
(match_cpu_us_per_pair, batch_cpu_us_per_pair, route_cpu_us,
batch_route_cpu_us) and the redis.call()s the scripts made per pair / per
route (match_calls_per_pair, route_calls_per_route: every command but
EVALSHA itself). --stats adds the per-command breakdown of the single
match run (calls and usec per pair for each command) as "match_commands".

ceiling.py --root SOURCE_DIR (--port PORT | --redis-server BINARY)
           [--pairs N] [--routes M] [--batch B[,B2...]] [--smoke] [--stats]

--redis-server starts a private redis-server on a free 127.0.0.1 port and
stops it at the end. --batch lists batch sizes (default 64; the first is
the one reported as batch_*). --smoke: tiny counts, and first checks that
every script's reply (single and batched) is well-formed, so that a
script-argument change that breaks this tool fails loudly; exits non-zero
if anything is wrong.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

GWS = '{megle}:gws'
SCRIPTS = ('open', 'find', 'leave', 'route', 'batch')


def resp(*args):
    out = ['*%d\r\n' % len(args)]
    for a in args:
        a = str(a)
        out.append('$%d\r\n%s\r\n' % (len(a.encode()), a))
    return ''.join(out)


def cli(port, *args):
    return subprocess.run(['redis-cli', '-p', str(port)] + list(args),
                          capture_output=True, text=True,
                          check=True).stdout.strip()


def pipe(port, text):
    with tempfile.NamedTemporaryFile('w', suffix='.resp', delete=False) as f:
        f.write(text)
        name = f.name
    try:
        t0 = time.perf_counter()
        with open(name) as f:
            r = subprocess.run(['redis-cli', '-p', str(port), '--pipe'],
                               stdin=f, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
    finally:
        os.unlink(name)
    if r.returncode != 0 or 'errors: 0' not in r.stdout:
        raise RuntimeError('redis-cli --pipe: %s %s' % (r.stdout, r.stderr))
    return elapsed


class Resp:
    """A minimal RESP2 client: send commands, read parsed replies (an
    error reply is an Exception instance, not raised)."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=30)
        self.buf = b''

    def _line(self):
        while b'\r\n' not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError('redis closed the connection')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _bulk(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError('redis closed the connection')
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data.decode()

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:].decode()
        if kind == b'+':
            return rest
        if kind == b'-':
            return Exception(rest)
        if kind == b':':
            return int(rest)
        if kind == b'$':
            return None if int(rest) < 0 else self._bulk(int(rest))
        if kind == b'*':
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError('bad RESP: %r' % line)

    def call(self, *args):
        self.sock.sendall(resp(*args).encode())
        return self.reply()


def load(port, root):
    lua = os.path.join(root, 'matcher', 'lua')
    lib = open(os.path.join(lua, 'lib.lua')).read()
    sha = {}
    for name in SCRIPTS:
        body = lib + open(os.path.join(lua, name + '.lua')).read()
        sha[name] = cli(port, 'SCRIPT', 'LOAD', body)
        if len(sha[name]) != 40:
            raise RuntimeError('SCRIPT LOAD %s: %s' % (name, sha[name]))
    return sha


#  Each op is (script name, its ARGV): the matcher's arguments.
#  find ARGV: sid, gw, mid, match_ttl, session_ttl, mode, interests,
#  now_ms, interest wait_ms (matcher/lua/lib.lua, OPS.find).
def op_open(s):
    return ('open', (s, 'gw-1', 'h' * 32, 86400))


def op_find(s, mid, now):
    return ('find', (s, 'gw-1', mid, 600, 86400, 'video', '', now, 0))


#  leave ARGV: sid, target, session_ttl, now_ms, rematch_block_ms (the
#  matcher's default MEGLE_REMATCH_BLOCK_MS: each pair's two sessions
#  become recent partners, as in megle-bench).
BLOCK_MS = 60000


def op_leave(s, target, now):
    return ('leave', (s, target, 86400, now, BLOCK_MS))


def op_route(s, target, mid):
    return ('route', (s, target, mid))


def single(sha, ops):
    return ''.join(resp('EVALSHA', sha[name], 1, GWS, *args)
                   for name, args in ops)


#  batch.lua's header and short forms, as matcher/batch.c sends them: the
#  constants (now, match_ttl, session_ttl, block) once per call, and per
#  find / leave only what varies. An op's constants must equal the
#  header's (they do here: one clock and the defaults for every op).
SHORT = {'find': ('f', (0, 1, 2, 5, 6, 8), {3: 1, 4: 2, 7: 0}),
         'leave': ('l', (0, 1), {2: 2, 3: 0, 4: 3}),
         'open': ('o', (0, 1, 2), {3: 2})}


def batch_args(ops):
    head = ['', '', '', '']
    out = []
    for name, args in ops:
        if name in SHORT:
            short, keep, consts = SHORT[name]
            for at, slot in consts.items():
                if head[slot] not in ('', str(args[at])):
                    raise ValueError('ceiling: one header per batch')
                head[slot] = str(args[at])
            out += [short, len(keep)] + [args[k] for k in keep]
        else:
            out += [name, len(args)] + list(args)
    return head + out


def batched(sha, ops, size):
    return ''.join(resp('EVALSHA', sha['batch'], 1, GWS,
                        *batch_args(ops[i:i + size]))
                   for i in range(0, len(ops), size))


def match_ops(a, b, tag, now):
    ops = []
    for n in range(len(a)):
        ops += [op_find(a[n], '%s%031d' % (tag, 2 * n), now),
                op_find(b[n], '%s%031d' % (tag, 2 * n + 1), now),
                op_leave(b[n], a[n], now)]
    return ops


def check_replies(port, sha, now):
    """The statuses every call of the timed runs must get, single and
    batched, on fresh sessions. Returns a list of problems."""
    r = Resp(port)
    bad = []

    def expect(what, got, status, length=None):
        if isinstance(got, Exception) or not isinstance(got, list) \
                or not got or got[0] != status \
                or (length is not None and len(got) != length):
            bad.append('%s: expected %s, got %r' % (what, status, got))

    a, b = 'c' + '0' * 31, 'd' + '0' * 31
    for s in (a, b):
        name, args = op_open(s)
        expect('open', r.call('EVALSHA', sha[name], 1, GWS, *args), 'ok')
    for (name, args), status, n in zip(
            match_ops([a], [b], 'x', now),
            ('waiting', 'matched', 'ended'), (1, 6, 4)):
        expect(name, r.call('EVALSHA', sha[name], 1, GWS, *args), status, n)
    ops = match_ops([a], [b], 'y', now)[:2] + [op_route(a, b, 'y' + '0' * 30
                                                        + '1')]
    ops += [op_leave(b, a, now)]
    got = r.call('EVALSHA', sha['batch'], 1, GWS, *batch_args(ops))
    if not isinstance(got, list) or len(got) != len(ops):
        bad.append('batch: expected %d replies, got %r' % (len(ops), got))
    else:
        for (name, _), one, status, n in zip(
                ops, got, ('waiting', 'matched', 'ok', 'ended'),
                (1, 6, 4, 4)):
            expect('batched ' + name, one, status, n)
    state = r.call('HGET', '{megle}:s:' + a, 'state')
    if state != 'idle':
        bad.append('state after the batched leave: %r' % state)
    return bad


def snapshot(port):
    """(main-thread CPU seconds, {command: (calls, usec)}) of Redis now."""
    r = Resp(port)
    cpu = 0.0
    for line in r.call('INFO', 'cpu').splitlines():
        if line.startswith(('used_cpu_user_main_thread:',
                            'used_cpu_sys_main_thread:')):
            cpu += float(line.split(':', 1)[1])
    cmds = {}
    for line in r.call('INFO', 'commandstats').splitlines():
        if not line.startswith('cmdstat_'):
            continue
        name, fields = line[len('cmdstat_'):].split(':', 1)
        kv = dict(f.split('=', 1) for f in fields.split(','))
        cmds[name] = (int(kv['calls']), int(kv['usec']))
    r.sock.close()
    return cpu, cmds


def delta(before, after):
    """(CPU µs, inner redis.call()s, {command: (calls, usec)}) between two
    snapshots; inner calls leave out the EVALSHA/INFO/ECHO commands themselves."""
    cmds = {}
    for name, (calls, usec) in after[1].items():
        c0, u0 = before[1].get(name, (0, 0))
        if calls > c0:
            cmds[name] = (calls - c0, usec - u0)
    inner = sum(c for name, (c, _) in cmds.items()
                if name not in ('evalsha', 'eval', 'info', 'echo'))
    return (after[0] - before[0]) * 1e6, inner, cmds


def timed(port, text):
    """pipe() the text; returns (seconds, delta of Redis's stats)."""
    before = snapshot(port)
    t = pipe(port, text)
    return t, delta(before, snapshot(port))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_redis(binary):
    port = free_port()
    proc = subprocess.Popen([binary, '--port', str(port), '--bind',
                             '127.0.0.1', '--save', '', '--appendonly', 'no',
                             '--loglevel', 'warning'],
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('redis-server exited')
        try:
            if Resp(port).call('PING') == 'PONG':
                return proc, port
        except OSError:
            pass
        time.sleep(0.02)  # polling interval while waiting for the condition
    proc.kill()
    raise RuntimeError('redis-server did not answer within 10 s')


def measure(port, root, pairs, routes, sizes, smoke, stats=False):
    sha = load(port, root)
    now = int(time.time() * 1000)
    problems = check_replies(port, sha, now) if smoke else []
    a = ['a%031d' % n for n in range(pairs)]
    b = ['b%031d' % n for n in range(pairs)]
    pipe(port, single(sha, [op_open(s) for s in a + b]))
    t_match, d_match = timed(port, single(sha, match_ops(a, b, 'm', now)))
    check = cli(port, 'HGET', '{megle}:s:' + a[-1], 'state')
    if check != 'idle':
        problems.append('state after leave: %r' % check)
    by_size = {}
    d_batch = None
    for k, size in enumerate(sizes):
        #  new partners each run (b rotated): strangers, as in the bench
        rot = b[k + 1:] + b[:k + 1]
        t, d = timed(port, batched(sha, match_ops(a, rot, 'n%d' % k, now),
                                   size))
        by_size[size] = round(pairs / t)
        d_batch = d_batch or d
        check = cli(port, 'HGET', '{megle}:s:' + rot[-1], 'state')
        if check != 'idle':
            problems.append('state after batched leave (batch %d): %r'
                            % (size, check))
    #  Match the pairs again (untimed), then route signals inside them.
    rematch = []
    for n in range(pairs):
        rematch += [op_find(a[n], 'r%031d' % n, now),
                    op_find(b[n], 's%031d' % n, now)]
    pipe(port, single(sha, rematch))
    route = [op_route(a[n], b[n], 's%031d' % n)
             for _ in range(routes) for n in range(pairs)]
    t_route, d_route = timed(port, single(sha, route))
    t_broute, d_broute = timed(port, batched(sha, route, sizes[0]))
    nroute = routes * pairs
    out = {
        'scenario': 'ceiling', 'ok': not problems,
        'why': '; '.join(problems),
        'pairs': pairs,
        'match_pairs_per_s': round(pairs / t_match),
        'match_calls_per_s': round(3 * pairs / t_match),
        'route_calls_per_s': round(routes * pairs / t_route),
        'batch_size': sizes[0],
        'batch_pairs_per_s': by_size[sizes[0]],
        'batch_ops_per_s': 3 * by_size[sizes[0]],
        'batch_route_per_s': round(routes * pairs / t_broute),
        'batch_pairs_per_s_by_size': {str(k): v for k, v in by_size.items()},
        'match_cpu_us_per_pair': round(d_match[0] / pairs, 2),
        'match_calls_per_pair': round(d_match[1] / pairs, 2),
        'batch_cpu_us_per_pair': round(d_batch[0] / pairs, 2),
        'route_cpu_us': round(d_route[0] / nroute, 2),
        'route_calls_per_route': round(d_route[1] / nroute, 2),
        'batch_route_cpu_us': round(d_broute[0] / nroute, 2),
    }
    if stats:
        out['match_commands'] = {
            name: {'calls_per_pair': round(c / pairs, 2),
                   'usec_per_pair': round(u / pairs, 2)}
            for name, (c, u) in sorted(d_match[2].items(),
                                       key=lambda kv: -kv[1][1])}
    return out


def main(argv):
    port, root, binary, smoke, stats = None, None, None, False, False
    pairs, routes, sizes = None, None, [64]
    i = 1
    try:
        while i < len(argv):
            if argv[i] in ('--smoke', '--stats'):
                smoke = smoke or argv[i] == '--smoke'
                stats = stats or argv[i] == '--stats'
                i += 1
                continue
            if argv[i] == '--port':
                port = int(argv[i + 1])
            elif argv[i] == '--root':
                root = argv[i + 1]
            elif argv[i] == '--redis-server':
                binary = argv[i + 1]
            elif argv[i] == '--pairs':
                pairs = int(argv[i + 1])
            elif argv[i] == '--routes':
                routes = int(argv[i + 1])
            elif argv[i] == '--batch':
                sizes = [int(x) for x in argv[i + 1].split(',')]
            else:
                raise ValueError(argv[i])
            i += 2
    except (ValueError, IndexError):
        print(__doc__, file=sys.stderr)
        return 2
    if not root or bool(port) == bool(binary) \
            or not sizes or min(sizes) < 1:
        print(__doc__, file=sys.stderr)
        return 2
    pairs = pairs or (200 if smoke else 50000)
    routes = routes or (1 if smoke else 4)
    proc = None
    try:
        if binary:
            proc, port = start_redis(binary)
        result = measure(port, root, pairs, routes, sizes, smoke, stats)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        result = {'scenario': 'ceiling', 'ok': False, 'why': str(e)}
    finally:
        if proc:
            proc.kill()
            proc.wait()
    print(json.dumps(result))
    if smoke and not result['ok']:
        print('ceiling: %s' % result['why'], file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
