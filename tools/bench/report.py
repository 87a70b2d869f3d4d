#!/usr/bin/env python3
"""report - turn megle-bench --json results into docs/performance.md.

Reads RESULTS/<label>.<run>.json (one JSON object per file, as written by
scripts/bench.sh), takes the median of each figure over the runs and
writes the document. Also: --check (every result ran, zero lost/duplicated/
misdelivered) and --half-match (half the median flat-out match rate, for
the paced run).
"""
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def load(results):
    out = {}
    for path in sorted(glob.glob(os.path.join(results, '*.json'))):
        base = os.path.basename(path)[:-5]
        label, _, run = base.rpartition('.')
        try:
            with open(path) as f:
                obj = json.loads(f.read().strip().splitlines()[-1])
        except (ValueError, IndexError, OSError) as err:
            obj = {'ok': False, 'why': 'unreadable: %s' % err}
        out.setdefault(label, []).append(obj)
    return out


def get(obj, path, default=None):
    for key in path.split('.'):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            return default
    return obj


def med(runs, path):
    vals = [get(r, path) for r in runs]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def proc_cpu(runs, name):
    vals = []
    for r in runs:
        for p in r.get('procs', []):
            if p['name'] == name and p['cpu_pct'] >= 0:
                vals.append(p['cpu_pct'])
    return statistics.median(vals) if vals else None


def check(results):
    data = load(results)
    bad = 0
    for label, runs in sorted(data.items()):
        for r in runs:
            if label.startswith('ceiling'):
                continue
            problems = []
            if not r.get('ok'):
                problems.append('did not run: %s' % r.get('why'))
            for k in ('lost', 'duplicated', 'misdelivered', 'dropped'):
                if r.get(k):
                    problems.append('%s=%s' % (k, r[k]))
            if r.get('scenario') == 'conns' and \
                    r.get('still_open') != r.get('conns'):
                problems.append('only %s of %s connections stayed open' %
                                (r.get('still_open'), r.get('conns')))
            if r.get('scenario') in ('relay', 'mixed', 'floor') and \
                    not r.get('delivered'):
                problems.append('no signal delivered')
            if r.get('scenario') == 'match' and not r.get('pairs'):
                problems.append('no pair matched')
            if problems:
                bad += 1
                print('%s: %s' % (label, '; '.join(problems)))
            else:
                print('%s: ok' % label)
    return 1 if bad or not data else 0


def fmt(v, unit='', digits=0):
    if v is None:
        return 'n/a'
    if digits == 0:
        return '{:,.0f}{}'.format(v, unit)
    return '{:,.{}f}{}'.format(v, digits, unit)


def ms(us):
    return 'n/a' if us is None else '%.2f ms' % (us / 1000.0)


def ratio(a, b):
    if a is None or not b:
        return 'n/a'
    return '%.0f %%' % (100.0 * a / b)


def machine(results=None):
    """The machine and its state now; or, given RESULTS, when the report
    was first written from them: kept there (machine.meta, JSON) on the
    first write (bench.sh's, right after the runs), so that a report
    written again from the same results (a changed analysis.md) keeps the
    load average and date of the measurement, not of the rewrite."""
    path = os.path.join(results, 'machine.meta') if results else None
    if path and os.path.exists(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            pass  # unreadable: measure now and write it again
    cpu = 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    with open('/proc/loadavg') as f:
        load_avg = ' '.join(f.read().split()[:3])
    try:
        redis = subprocess.run(['redis-server', '--version'],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        redis = 'unknown'
    m = {'nproc': os.cpu_count(), 'cpu': cpu, 'kernel': platform.release(),
         'load': load_avg, 'redis': redis,
         'date': time.strftime('%Y-%m-%d %H:%M %Z')}
    if path:
        with open(path, 'w') as f:
            json.dump(m, f)
    return m


def cpu_line(runs):
    if not runs:
        return 'n/a'
    names = [p['name'] for p in runs[0].get('procs', [])]
    parts = ['megle-bench %s %%' % fmt(med(runs, 'bench_cpu_pct'), '', 0)]
    for n in names:
        parts.append('%s %s %%' % (n, fmt(proc_cpu(runs, n))))
    sat = any(r.get('bench_saturated') for r in runs)
    return ', '.join(parts) + (' (**bench saturated** in at least one run)'
                               if sat else '')


def cpu_ceiling(run, nproc, rate_key='delivered_per_s'):
    """The rate every core of the machine would give at this run's CPU
    cost per operation (all processes, the bench's own included), or None.
    """
    rate = run.get(rate_key)
    total = run.get('bench_cpu_pct')
    if not rate or total is None or not nproc:
        return None
    for p in run.get('procs', []):
        if (p.get('cpu_pct') or 0) > 0:
            total += p['cpu_pct']
    return rate * 100.0 * int(nproc) / total if total > 0 else None


def times(a, b):
    """a as a multiple of b ("3.2×"), or n/a."""
    if a is None or not b:
        return 'n/a'
    return '%.1f×' % (float(a) / b)


def us_per_msg(runs, name, rate_key='delivered_per_s'):
    """Median CPU µs per delivered message (or per rate_key's unit, e.g.
    pairs_per_s) of process name in runs: the floor reports it; for
    megle-bench runs it is cpu_pct over the rate."""
    vals = []
    for r in runs:
        rate = r.get(rate_key)
        if name == 'client':
            pct = r.get('client_cpu_pct', r.get('bench_cpu_pct'))
        elif name == 'all':
            pct = r.get('cpu_pct')
            if pct is None and r.get('bench_cpu_pct') is not None:
                pct = r['bench_cpu_pct'] + sum(
                    p['cpu_pct'] for p in r.get('procs', [])
                    if (p.get('cpu_pct') or 0) > 0)
        else:
            pct = None
            for p in r.get('procs', []):
                if p['name'] == name and p['cpu_pct'] >= 0:
                    pct = p['cpu_pct']
        if pct is not None and pct >= 0 and rate:
            vals.append(pct * 1e4 / rate)
    return statistics.median(vals) if vals else None


def relay_table(w, rows, cpu):
    """A table of relay-like runs (megle-bench relay, megle-floor): one row
    per (name, runs), skipping names without runs; cpu formats the CPU
    column."""
    w('| run | delivered/s | lost | dup | misdelivered | latency p50 | p99 '
      '| p999 | CPU |')
    w('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for name, runs in rows:
        if not runs:
            continue
        w('| %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            name, fmt(med(runs, 'delivered_per_s')), fmt(med(runs, 'lost')),
            fmt(med(runs, 'duplicated')), fmt(med(runs, 'misdelivered')),
            ms(med(runs, 'relay_latency.p50_us')),
            ms(med(runs, 'relay_latency.p99_us')),
            ms(med(runs, 'relay_latency.p999_us')), cpu(runs)))


def floor_cpu_line(runs):
    if not runs:
        return 'n/a'
    parts = ['client %s %%' % fmt(med(runs, 'client_cpu_pct'))]
    for p in runs[0].get('procs', []):
        parts.append('%s %s %%' % (p['name'], fmt(proc_cpu(runs, p['name']))))
    return ', '.join(parts)


def write(out, results, nruns, cost_path):
    d = load(results)
    m = machine(results)
    c = d.get('ceiling', [])
    conns, match = d.get('conns', []), d.get('match', [])
    half, relay = d.get('match_half', []), d.get('relay', [])
    r10k, mixed = d.get('relay_10k', []), d.get('mixed', [])
    #  megle-floor: the relay topology without megle (tools/bench/floor.c).
    fl, fl10k = d.get('floor', []), d.get('floor_10k', [])
    floor_sig = med(fl, 'delivered_per_s')
    floor_p50_10k = med(fl10k, 'relay_latency.p50_us')
    floor_p99_10k = med(fl10k, 'relay_latency.p99_us')
    cost = {}
    if cost_path and os.path.exists(cost_path):
        with open(cost_path) as f:
            cost = json.load(f)

    c50 = d.get('conns50k', [])
    rss50 = med([{'v': sum(v for k, v in r.get('rss_per_conn', {}).items()
                           if k.startswith('gateway'))} for r in c50], 'v')
    #  The matcher batches (MEGLE_BATCH_MAX): its Redis ceiling is the
    #  batched one; the one-call-per-op figure is shown next to it.
    ceil_pairs = med(c, 'batch_pairs_per_s') or med(c, 'match_pairs_per_s')
    ceil_route = med(c, 'batch_route_per_s') or med(c, 'route_calls_per_s')
    rss = med(conns, 'rss_per_conn.gateway1')
    pairs = med(match, 'pairs_per_s')
    ttm99_half = med(half, 'time_to_match.p99_us')
    sig = med(relay, 'delivered_per_s')
    #  Relays come from the matcher's route cache, not Redis: what bounds
    #  them is CPU. The CPU ceiling is this run's own cost per signal
    #  (every process, the bench included) spread over every core.
    sig_cpu = med([{'v': cpu_ceiling(r, m['nproc'])} for r in relay], 'v')
    pairs_cpu = med([{'v': cpu_ceiling(r, m['nproc'], 'pairs_per_s')}
                     for r in match], 'v')
    lat99_10k = med(r10k, 'relay_latency.p99_us')
    integrity = {k: sum(r.get(k, 0) or 0 for lab in ('relay', 'relay_10k',
                                                     'mixed')
                        for r in d.get(lab, []))
                 for k in ('lost', 'duplicated', 'misdelivered')}

    L = []
    w = L.append
    w('# megle performance')
    w('')
    w('Generated by `scripts/bench.sh` from `megle-bench --json` output on '
      '%s; do not edit by hand, re-run the script. Every figure is the '
      'median of %d runs, each on a freshly started stack.' % (m['date'],
                                                               nruns))
    w('')
    w('## Targets and results')
    w('')
    w('| figure | target | measured (median) | ceiling measured in the same '
      'run | ratio to ceiling | verdict |')
    w('| --- | --- | --- | --- | --- | --- |')

    def verdict(ok):
        return 'n/a' if ok is None else ('**met**' if ok else '**missed**')
    w('| gateway RSS per idle WebSocket, %s connections on one gateway | '
      '≤ 2 KiB | %s B | lws 1.5 KB with rx_buffer_size 128 (issue 7) | — | '
      '%s |' % (fmt(med(conns, 'conns')), fmt(rss),
                verdict(None if rss is None else rss <= 2048)))
    if c50:
        w('| gateway RSS per idle WebSocket, %s connections over three '
          'gateways | ≤ 2 KiB | %s B | — | — | %s |'
          % (fmt(med(c50, 'conns')), fmt(rss50),
             verdict(None if rss50 is None else rss50 <= 2048)))
    w('| matched pairs/s end to end, flat out | ≥ 30,000 | %s | Redis, '
      'match scripts batched and pipelined: %s pairs/s | %s | %s |'
      % (fmt(pairs), fmt(ceil_pairs), ratio(pairs, ceil_pairs),
         verdict(None if pairs is None else pairs >= 30000)))
    w('| matched pairs/s: the same run against its CPU ceiling | — | %s '
      '| all %s cores busy at this run\'s CPU per pair: %s pairs/s | %s '
      '| — |' % (fmt(pairs), m['nproc'], fmt(pairs_cpu),
                 ratio(pairs, pairs_cpu)))
    w('| p99 find_match → match_found at half that load (%s pairs/s) | '
      '≤ 5 ms | %s | — | — | %s |'
      % (fmt(med(half, 'rate')), ms(ttm99_half),
         verdict(None if ttm99_half is None else ttm99_half <= 5000)))
    w('| signals/s relayed end to end, flat out (3 gateways) | ≥ 80,000 | %s '
      '| all %s cores busy at this run\'s CPU per signal: %s signals/s '
      '(relays skip Redis: route cache) | %s | %s |'
      % (fmt(sig), m['nproc'], fmt(sig_cpu), ratio(sig, sig_cpu),
         verdict(None if sig is None else sig >= 80000)))
    w('| p99 one-way signal latency at 10 k signals/s | ≤ 1 ms | %s | — | — '
      '| %s |' % (ms(lat99_10k),
                  verdict(None if lat99_10k is None else lat99_10k <= 1000)))
    if fl:
        w('| signals/s relayed flat out, against the floor: the same '
          'topology without megle (megle-floor) | — | %s | floor, flat out, '
          '%s gateways: %s messages/s | %s | — |'
          % (fmt(sig), fmt(med(fl, 'gateways')), fmt(floor_sig),
             ratio(sig, floor_sig)))
    if fl10k:
        w('| p99 one-way latency at 10 k/s, against the floor (same '
          'topology without megle) | — | %s | floor at %s messages/s: p99 %s '
          '(p50 %s) | megle %s the floor | — |'
          % (ms(lat99_10k), fmt(med(fl10k, 'rate')), ms(floor_p99_10k),
             ms(floor_p50_10k), times(lat99_10k, floor_p99_10k)))
    ok_int = all(v == 0 for v in integrity.values())
    w('| lost / duplicated / misdelivered signals (relay, relay at 10 k/s, '
      'mixed; all runs) | 0 / 0 / 0 | %d / %d / %d | — | — | %s |'
      % (integrity['lost'], integrity['duplicated'], integrity['misdelivered'],
         verdict(ok_int)))
    w('')
    w('## Machine')
    w('')
    w('| | |')
    w('| --- | --- |')
    w('| CPUs (nproc) | %s |' % m['nproc'])
    w('| CPU model | %s |' % m['cpu'])
    w('| kernel | %s |' % m['kernel'])
    w('| Redis | %s |' % m['redis'])
    w('| load average when the report was written (1, 5, 15 min) | %s |'
      % m['load'])
    w('')
    w('The machine is shared: other jobs ran during the measurement, so the '
      'load average above is part of the result. The bench, the gateways, '
      'the matcher and redis-server all share these cores.')
    w('')
    w('## Scenarios (medians of %d runs)' % nruns)
    w('')

    def hist_row(name, runs, key):
        return '| %s | %s | %s | %s | %s |' % (
            name, ms(med(runs, key + '.p50_us')), ms(med(runs, key + '.p99_us')),
            ms(med(runs, key + '.p999_us')), ms(med(runs, key + '.max_us')))
    w('### conns: idle WebSockets')
    w('')
    w('`megle-bench conns %s --hold %s --ping 5`, one gateway.'
      % (fmt(med(conns, 'conns')), fmt(med(conns, 'hold_s'))))
    w('')
    w('| figure | value |')
    w('| --- | --- |')
    w('| handshakes/s (connect → welcome, 256 in flight) | %s |'
      % fmt(med(conns, 'handshakes_per_s')))
    w('| still open after the hold | %s of %s |'
      % (fmt(med(conns, 'still_open')), fmt(med(conns, 'conns'))))
    w('| pings / pongs | %s / %s |' % (fmt(med(conns, 'pings')),
                                       fmt(med(conns, 'pongs'))))
    for n in ('gateway1', 'matcher', 'redis'):
        w('| RSS growth per connection, %s | %s B |'
          % (n, fmt(med(conns, 'rss_per_conn.' + n))))
    w('| CPU over connect + hold | %s |' % cpu_line(conns))
    w('')
    if c50:
        w('`megle-bench conns %s --hold %s --ping 5` over three gateways; '
          'one process cannot hold that many sockets (open-file limit), so '
          'megle-bench forks %s workers, each from its own source address, '
          'and samples RSS and CPU once all of them hold their share.'
          % (fmt(med(c50, 'conns')), fmt(med(c50, 'hold_s')),
             fmt(med(c50, 'bench_procs'))))
        w('')
        w('| figure | value |')
        w('| --- | --- |')
        w('| handshakes/s | %s |' % fmt(med(c50, 'handshakes_per_s')))
        w('| handshake p50 / p99 | %s / %s |'
          % (ms(med(c50, 'handshake.p50_us')),
             ms(med(c50, 'handshake.p99_us'))))
        w('| still open after the hold | %s of %s |'
          % (fmt(med(c50, 'still_open')), fmt(med(c50, 'conns'))))
        w('| gateway RSS growth per connection (three gateways together) | '
          '%s B |' % fmt(rss50))
        w('| redis RSS growth per connection | %s B |'
          % fmt(med(c50, 'rss_per_conn.redis')))
        w('| CPU over connect + hold | %s |' % cpu_line(c50))
        w('')
        w('The capacity model built from these figures, and its check '
          'against 50 k connections plus a mixed load, is in '
          '[capacity.md](capacity.md).')
        w('')
    w('### match')
    w('')
    w('| run | pairs/s | time to match p50 | p99 | p999 | max | CPU |')
    w('| --- | --- | --- | --- | --- | --- | --- |')
    for name, runs in (('flat out, %s clients, 1 gateway' %
                        fmt(med(match, 'clients')), match),
                       ('paced at %s pairs/s' % fmt(med(half, 'rate')), half)):
        w('| %s | %s | %s | %s | %s | %s | %s |' % (
            name, fmt(med(runs, 'pairs_per_s')),
            ms(med(runs, 'time_to_match.p50_us')),
            ms(med(runs, 'time_to_match.p99_us')),
            ms(med(runs, 'time_to_match.p999_us')),
            ms(med(runs, 'time_to_match.max_us')), cpu_line(runs)))
    w('')
    w('### relay')
    w('')
    w('Signals are offers/answers of 2–4 KB (one in ten) and ICE candidates '
      'of ~200 B, each carrying a sequence number and its send time; '
      'pairs are spread over 3 gateways, so most signals cross gateways.')
    w('')
    relay_table(w, (
        ('flat out, %s pairs, window %s' % (
            fmt(med(relay, 'pairs')), fmt(med(relay, 'window'))), relay),
        ('paced at %s signals/s' % fmt(med(r10k, 'rate')), r10k)), cpu_line)
    w('')
    if fl or fl10k:
        w('### floor: the relay topology without megle')
        w('')
        w('`megle-floor` (`tools/bench/floor.c`) forks the processes of the '
          'relay path with none of megle\'s logic: a client (one epoll '
          'loop, the same pairs, sizes, pacing and window as megle-bench '
          'relay) → 3 gateway processes (read a length-prefixed message, '
          'prefix the destination connection, ZeroMQ PUSH) → a matcher '
          'process (PULL, PUB two parts to the destination gateway\'s topic) '
          '→ the destination gateway\'s SUB → TCP → the client. No '
          'WebSocket, JSON, msgpack, Redis or routing table: 3 processes '
          'on loopback and 2 ZeroMQ hops, what megle cannot go below with '
          'this process design.')
        w('')
        relay_table(w, (
            ('flat out, %s pairs, window %s' % (
                fmt(med(fl, 'pairs')), fmt(med(fl, 'window'))), fl),
            ('paced at %s messages/s' % fmt(med(fl10k, 'rate')), fl10k)),
            floor_cpu_line)
        w('')
        w('CPU per delivered message (µs; each process\'s CPU over the '
          'window divided by the messages delivered in it), the floor next '
          'to megle\'s relay runs of the same report:')
        w('')
        w('| process | floor, flat out | megle, flat out | megle / floor '
          '| floor, %s/s | megle, %s/s | megle / floor |'
          % (fmt(med(fl10k, 'rate')), fmt(med(r10k, 'rate'))))
        w('| --- | --- | --- | --- | --- | --- | --- |')
        names = [p['name'] for p in (fl or fl10k or [{}])[0].get('procs', [])]
        for name in ['client'] + names + ['all']:
            a, b = us_per_msg(fl, name), us_per_msg(relay, name)
            a10, b10 = us_per_msg(fl10k, name), us_per_msg(r10k, name)
            label = {'client': 'client (megle-bench for megle)',
                     'all': 'all processes'}.get(name, name)
            w('| %s | %s | %s | %s | %s | %s | %s |'
              % (label, fmt(a, '', 2), fmt(b, '', 2), times(b, a),
                 fmt(a10, '', 2), fmt(b10, '', 2), times(b10, a10)))
        w('')
        w('Context switches per message in the floor (every thread of '
          'every process, voluntary and involuntary): %s flat out, %s at '
          '%s/s.' % (fmt(med(fl, 'switches_per_msg'), '', 2),
                     fmt(med(fl10k, 'switches_per_msg'), '', 2),
                     fmt(med(fl10k, 'rate'))))
        w('')
    w('### mixed')
    w('')
    w('Poisson arrivals at %s/s over 3 gateways; each arrival connects, '
      'finds a match, sends ~10 signals per side 50 ms apart (offer/answer '
      'first), and the initiator skips after an exponential talk time '
      '(mean 5 s); a skipper or a left partner looks again with '
      'probability 0.7, else leaves the site.' % fmt(med(mixed,
                                                         'arrivals_per_s')))
    w('')
    w('| figure | value |')
    w('| --- | --- |')
    for k, label in (('arrivals', 'arrivals'), ('matches', 'matches'),
                     ('skips', 'skips'), ('departures', 'departures'),
                     ('peak_conns', 'peak connections'),
                     ('delivered', 'signals delivered'),
                     ('misdelivered', 'misdelivered')):
        w('| %s | %s |' % (label, fmt(med(mixed, k))))
    w('| time to match p50 / p99 / p999 | %s / %s / %s |' % (
        ms(med(mixed, 'time_to_match.p50_us')),
        ms(med(mixed, 'time_to_match.p99_us')),
        ms(med(mixed, 'time_to_match.p999_us'))))
    w('| signal latency p50 / p99 / p999 | %s / %s / %s |' % (
        ms(med(mixed, 'relay_latency.p50_us')),
        ms(med(mixed, 'relay_latency.p99_us')),
        ms(med(mixed, 'relay_latency.p999_us'))))
    w('| CPU | %s |' % cpu_line(mixed))
    errs = {}
    for r in mixed:
        for k, v in r.get('errors', {}).items():
            errs[k] = errs.get(k, 0) + v
    if errs:
        w('| error events (all runs; expected: signals racing a skip) | %s |'
          % ', '.join('%s %d' % kv for kv in sorted(errs.items())))
    w('')
    w('### Ceilings')
    w('')
    w('`tools/bench/ceiling.py` loads the matcher\'s own scripts '
      '(lib.lua prepended) into the stack\'s redis-server and sends them '
      'with `redis-cli --pipe`, all in flight: per pair `find` (waits), '
      '`find` (matches), `leave`, the three calls the matcher makes per pair '
      'in the match scenario; and `route`, the one call per relayed signal.')
    w('')
    w('| ceiling | median |')
    w('| --- | --- |')
    w('| match scripts, pairs/s, one EVALSHA per op (3 per pair) | %s |'
      % fmt(med(c, 'match_pairs_per_s')))
    w('| match scripts, pairs/s, batched (batch.lua, %s ops per call) | %s |'
      % (fmt(med(c, 'batch_size')), fmt(med(c, 'batch_pairs_per_s'))))
    w('| Redis CPU per pair, one call per op / batched (µs) | %s / %s |'
      % (fmt(med(c, 'match_cpu_us_per_pair')),
         fmt(med(c, 'batch_cpu_us_per_pair'))))
    w('| route script, calls/s, one per call / batched | %s / %s |'
      % (fmt(med(c, 'route_calls_per_s')), fmt(med(c, 'batch_route_per_s'))))
    w('')
    w('Relayed signals normally skip Redis (the matcher\'s route cache, '
      '`matcher/routes.c`); the route ceiling bounds only the first relay '
      'of each side of a match and relays after a cache miss.')
    w('')
    if cost:
        w('## Cost model (callgrind)')
        w('')
        w(cost.get('method', ''))
        w('')
        w('| per operation | gateway | matcher |')
        w('| --- | --- | --- |')
        for row in cost.get('rows', []):
            w('| %s | %s | %s |' % (row['what'], fmt(row.get('gateway')),
                                    fmt(row.get('matcher'))))
        w('')
        for proc in ('gateway', 'matcher'):
            hs = cost.get('hot', {}).get(proc)
            if hs:
                w('Hot spots, %s (%s):' % (proc, cost.get('hot_workload', '')))
                w('')
                w('```')
                w(hs.rstrip())
                w('```')
                w('')
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'analysis.md')
    if os.path.exists(analysis):
        with open(analysis) as f:
            text = f.read()
        vals = {'rss': fmt(rss), 'rss50k': fmt(rss50),
                'conns50k': fmt(med(c50, 'conns')), 'pairs': fmt(pairs),
                'ceil_pairs': fmt(ceil_pairs), 'sig': fmt(sig),
                'ceil_route': fmt(ceil_route), 'sig_cpu': fmt(sig_cpu),
                'pairs_cpu': fmt(pairs_cpu),
                'sig_cpu_ratio': ratio(sig, sig_cpu),
                'pairs_ratio': ratio(pairs, ceil_pairs),
                'sig_ratio': ratio(sig, ceil_route),
                'floor_sig': fmt(floor_sig),
                'floor_ratio': ratio(sig, floor_sig),
                'floor_p50': ms(floor_p50_10k),
                'floor_p99': ms(floor_p99_10k),
                'relay_p99': ms(lat99_10k),
                'floor_cpu': fmt(us_per_msg(fl, 'all'), '', 1),
                'relay_cpu': fmt(us_per_msg(relay, 'all'), '', 1),
                'floor_cpu10k': fmt(us_per_msg(fl10k, 'all')),
                'relay_cpu10k': fmt(us_per_msg(r10k, 'all')),
                'floor_sw': fmt(med(fl, 'switches_per_msg'), '', 2),
                'floor_sw10k': fmt(med(fl10k, 'switches_per_msg'), '', 1)}
        #  CPU µs per matched pair of each process, flat out
        for name, key in (('client', 'bench'), ('gateway1', 'gateway'),
                          ('matcher', 'matcher'), ('redis', 'redis'),
                          ('all', 'all')):
            vals['pair_us_' + key] = fmt(
                us_per_msg(match, name, 'pairs_per_s'), '', 0)
        redis_us = us_per_msg(match, 'redis', 'pairs_per_s')
        vals['pair_redis_alone'] = fmt(1e6 / redis_us if redis_us else None)
        #  A bound composed of the same day's measurements: a pair moves 7
        #  WebSocket messages (3 in, 4 out) and 7 bus frames, the transport
        #  of 3.5 relayed signals (1 in, 1 out, 2 frames each), plus the
        #  Redis CPU of the batched match scripts (ceiling.py). With
        #  megle's relay cost per signal, and with megle-floor's.
        redis_batched = med(c, 'batch_cpu_us_per_pair')
        vals['pair_redis_batched'] = fmt(redis_batched, '', 1)
        for key, runs in (('megle', relay), ('floor', fl)):
            per_sig = us_per_msg(runs, 'all')
            cost = (3.5 * per_sig + redis_batched
                    if per_sig and redis_batched else None)
            bound = int(m['nproc']) * 1e6 / cost if cost else None
            vals['pair_transport_' + key] = fmt(
                3.5 * per_sig if per_sig else None)
            vals['pair_bound_' + key] = fmt(bound)
            if key == 'megle':
                vals['pairs_of_bound'] = ratio(pairs, bound)
                vals['pair_redis_share'] = ratio(redis_batched, cost)
        all_us = us_per_msg(match, 'all', 'pairs_per_s')
        #  The paced half-load run: its CPU per pair, how busy that kept
        #  the cores, its time to match.
        half_us = us_per_msg(half, 'all', 'pairs_per_s')
        half_rate = med(half, 'pairs_per_s')
        vals['half_rate'] = fmt(half_rate)
        vals['half_us'] = fmt(half_us, '', 0)
        vals['half_busy'] = ('%d %%' % round(half_us * half_rate
                                             / (int(m['nproc']) * 1e4))
                             if half_us and half_rate else 'n/a')
        vals['half_p50'] = ms(med(half, 'time_to_match.p50_us'))
        vals['half_p99'] = ms(ttm99_half)
        vals['pair_cores'] = fmt(all_us * 30000 / 1e6 if all_us else None,
                                 '', 1)
        budget = int(m['nproc']) * 1e6 / 30000  # µs per pair at 30 k/s
        vals['pair_cut'] = ('%d %%' % round(100 * (1 - budget / all_us))
                            if all_us and all_us > budget else 'nothing')
        for k, v in vals.items():
            text = text.replace('{{%s}}' % k, v)
        L.append(text.rstrip())
        L.append('')
    with open(out, 'w') as f:
        f.write('\n'.join(L) + '\n')
    return 0


def half_match(results):
    runs = load(results).get('match', [])
    rate = med(runs, 'pairs_per_s') or 2000
    return max(1, int(rate / 2))


def main(argv):
    if len(argv) >= 3 and argv[1] == '--check':
        return check(argv[2])
    if len(argv) >= 3 and argv[1] == '--half-match':
        print(half_match(argv[2]))
        return 0
    if len(argv) >= 3 and argv[1] == '--write':
        args = {'--runs': '3', '--cost': ''}
        rest = argv[3:]
        while len(rest) >= 2 and rest[0] in args:
            args[rest[0]] = rest[1]
            rest = rest[2:]
        if len(rest) != 1:
            print('usage: report.py --write FILE [--runs N] [--cost FILE] '
                  'RESULTS', file=sys.stderr)
            return 2
        return write(argv[2], rest[0], int(args['--runs']), args['--cost'])
    print('usage: report.py --check RESULTS | --half-match RESULTS | '
          '--write FILE [--runs N] [--cost FILE] RESULTS', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
