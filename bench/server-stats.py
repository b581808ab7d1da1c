#!/usr/bin/env python3
"""Prints what Portal (Prometheus /metrics) and PostgreSQL (pg_stat_database, pg_stat_wal) did
between two snapshots taken by bench/load.sh: server-side request time, decision time, GC counts,
commits per second, rows per commit and WAL sync time. Usage: server-stats.py WORKDIR T0 T1"""
import re
import sys
from collections import defaultdict

work, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
wall = t1 - t0


def metrics(path):
    values = defaultdict(float)
    try:
        for line in open(path):
            if line.startswith('#') or not line.strip():
                continue
            m = re.match(r'^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)', line)
            if m:
                values[(m.group(1), m.group(2) or '')] = float(m.group(3))
    except OSError:
        pass
    return values


m0, m1 = metrics(f'{work}/metrics0.txt'), metrics(f'{work}/metrics1.txt')
delta = {k: m1[k] - m0.get(k, 0.0) for k in m1}


def histogram(name, label_filter=''):
    """(count, sum, [(le, cumulative count)]) summed over series whose labels contain label_filter."""
    count = sum(v for (n, l), v in delta.items() if n == name + '_count' and label_filter in l)
    total = sum(v for (n, l), v in delta.items() if n == name + '_sum' and label_filter in l)
    buckets = defaultdict(float)
    for (n, l), v in delta.items():
        if n == name + '_bucket' and label_filter in l:
            le = re.search(r'le="([^"]+)"', l).group(1)
            buckets[float('inf') if le == '+Inf' else float(le)] += v
    return count, total, sorted(buckets.items())


def quantile(buckets, count, q):
    for le, c in buckets:
        if c >= q * count:
            return le
    return float('nan')


def show(title, name, label_filter=''):
    count, total, buckets = histogram(name, label_filter)
    if count <= 0:
        print(f'  {title}: no samples')
        return
    p50, p99 = quantile(buckets, count, 0.5), quantile(buckets, count, 0.99)
    print(f'  {title}: {count:.0f} samples, mean {total / count * 1000:.2f} ms, p50 <= {p50 * 1000:g} ms, p99 <= {p99 * 1000:g} ms (bucket bounds)')


show('Portal, POST /api/orders (server side, Kestrel in to out)', 'http_request_duration_seconds', 'method="POST"')
show('Portal, accepted orders: gateway decision + commits + paper broker', 'portal_order_decision_seconds')
gcs = {l: v for (n, l), v in delta.items() if n == 'dotnet_collection_count_total'}
if gcs:
    gens = sorted((re.search(r'generation="(\d)"', l).group(1), v) for l, v in gcs.items())
    print('  Portal GCs: ' + '  '.join(f'gen{g} {v:.0f}' for g, v in gens))
threads = m1.get(('process_num_threads', ''))
if threads:
    print(f'  Portal threads at end: {threads:.0f}')

try:
    s0 = [float(x) for x in open(f'{work}/pgstats0.txt').read().split()]
    s1 = [float(x) for x in open(f'{work}/pgstats1.txt').read().split()]
    commits, rows, syncs, sync_ms, writes, wal_bytes = [b - a for a, b in zip(s0, s1)]
    print(f'  PostgreSQL: {commits / wall:.0f} commits/s, {rows / max(commits, 1):.1f} rows written per commit, '
          f'{syncs / wall:.0f} WAL syncs/s averaging {sync_ms / max(syncs, 1):.2f} ms ({sync_ms / 1000 / wall:.0%} of the time in fsync), '
          f'{wal_bytes / wall / 1e6:.1f} MB/s WAL')
except (OSError, ValueError):
    print('  PostgreSQL: no statistics')


def redis_commands(path):
    # INFO commandstats lines: cmdstat_evalsha:calls=12,usec=345,usec_per_call=28.75,...
    stats = {}
    for line in open(path):
        if line.startswith('cmdstat_'):
            name, fields = line.strip()[len('cmdstat_'):].split(':', 1)
            values = dict(f.split('=', 1) for f in fields.split(','))
            stats[name] = (int(values['calls']), int(values['usec']))
    return stats


try:
    r0, r1 = redis_commands(f'{work}/redis-commands0.txt'), redis_commands(f'{work}/redis-commands1.txt')
    deltas = sorted(((name, calls - r0.get(name, (0, 0))[0], usec - r0.get(name, (0, 0))[1]) for name, (calls, usec) in r1.items()),
                    key=lambda d: -d[2])
    print('  Redis commands by time inside Redis: ' + '  '.join(
        f'{name} {calls / wall:.0f}/s {usec / max(calls, 1):.1f} µs' for name, calls, usec in deltas[:6] if calls > 0))
except (OSError, ValueError, KeyError):
    print('  Redis: no command statistics')
