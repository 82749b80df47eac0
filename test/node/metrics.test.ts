/**
 * node/metrics.ts through its Prometheus text: samples, labels, the guard on
 * label values, and registries kept apart per node.
 */
import { register } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createNodeMetrics, type NodeMetrics } from '../../src/node/metrics.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of an exposition (label values here never hold quotes or commas). */
function samples(body: string): Sample[] {
  const out: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of m[2] ? m[2].split(',') : []) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="(.*)"$/.exec(pair);
      if (l === null) throw new Error(`not a label: ${pair}`);
      labels[l[1]!] = l[2]!;
    }
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` with exactly `labels`; undefined when there is none. */
async function sampleValue(
  metrics: NodeMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const found = samples((await metrics.render()).body).filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

/** Every value the label `label` takes across the samples named `name`. */
async function labelValues(metrics: NodeMetrics, name: string, label: string): Promise<string[]> {
  const values = samples((await metrics.render()).body)
    .filter((s) => s.name === name && s.labels[label] !== undefined)
    .map((s) => s.labels[label]!);
  return [...new Set(values)].sort();
}

const quiet = () => createNodeMetrics({ defaultMetrics: false });

describe('createNodeMetrics', () => {
  it('counts appends, and ignores counts a counter cannot take', async () => {
    const m = quiet();
    expect(await sampleValue(m, 'dirchain_appends_total')).toBe(0);
    m.appended(3);
    m.appended(1);
    m.appended(-1);
    m.appended(Number.NaN);
    expect(await sampleValue(m, 'dirchain_appends_total')).toBe(4);
  });

  it('counts refusals by error code', async () => {
    const m = quiet();
    m.refused('E_CLOCK_SKEW');
    m.refused('E_CLOCK_SKEW');
    m.refused('E_DUPLICATE');
    expect(await sampleValue(m, 'dirchain_refusals_total', { code: 'E_CLOCK_SKEW' })).toBe(2);
    expect(await sampleValue(m, 'dirchain_refusals_total', { code: 'E_DUPLICATE' })).toBe(1);
    expect(await labelValues(m, 'dirchain_refusals_total', 'code')).toEqual(['E_CLOCK_SKEW', 'E_DUPLICATE']);
  });

  it('puts block write times into buckets from 1 ms to 2 s', async () => {
    const m = quiet();
    m.blockWritten(0.003);
    m.blockWritten(1.5);
    m.blockWritten(30);
    const bucket = (le: string) => sampleValue(m, 'dirchain_block_write_seconds_bucket', { le });
    expect(await bucket('0.001')).toBe(0);
    expect(await bucket('0.0025')).toBe(0);
    expect(await bucket('0.005')).toBe(1);
    expect(await bucket('1')).toBe(1);
    expect(await bucket('2')).toBe(2);
    expect(await bucket('+Inf')).toBe(3);
    expect(await sampleValue(m, 'dirchain_block_write_seconds_count')).toBe(3);
    expect(await sampleValue(m, 'dirchain_block_write_seconds_sum')).toBeCloseTo(31.503, 9);
    const les = await labelValues(m, 'dirchain_block_write_seconds_bucket', 'le');
    const finite = les.filter((le) => le !== '+Inf').map(Number);
    expect(Math.min(...finite)).toBe(0.001);
    expect(Math.max(...finite)).toBe(2);
  });

  it('shows the queue depth last set', async () => {
    const m = quiet();
    m.setQueueDepth(5);
    m.setQueueDepth(2);
    expect(await sampleValue(m, 'dirchain_queue_depth')).toBe(2);
  });

  it('times HTTP requests by method, route and status', async () => {
    const m = quiet();
    m.request('GET', 'tile', 200, 0.002);
    m.request('GET', 'tile', 200, 0.004);
    m.request('POST', 'records', 429, 0.01);
    const tile = { method: 'GET', route: 'tile', status: '200' };
    expect(await sampleValue(m, 'dirchain_http_request_duration_seconds_count', tile)).toBe(2);
    expect(await sampleValue(m, 'dirchain_http_request_duration_seconds_sum', tile)).toBeCloseTo(0.006, 9);
    expect(
      await sampleValue(m, 'dirchain_http_request_duration_seconds_count', {
        method: 'POST',
        route: 'records',
        status: '429',
      }),
    ).toBe(1);
    expect(
      await sampleValue(m, 'dirchain_http_request_duration_seconds_bucket', { ...tile, le: '0.0025' }),
    ).toBe(1);
  });

  it('declares each metric with its type', async () => {
    const { body } = await quiet().render();
    expect(body).toContain('# TYPE dirchain_appends_total counter');
    expect(body).toContain('# TYPE dirchain_refusals_total counter');
    expect(body).toContain('# TYPE dirchain_block_write_seconds histogram');
    expect(body).toContain('# TYPE dirchain_queue_depth gauge');
    expect(body).toContain('# TYPE dirchain_http_request_duration_seconds histogram');
  });

  it('maps label values outside their closed sets to "other"', async () => {
    const m = quiet();
    m.refused('member-7f3a');
    m.refused('E_clock_skew');
    m.refused(`E_${'A'.repeat(41)}`);
    m.refused(`E_${'A'.repeat(40)}`);
    m.request('PROPFIND', 'tile', 207, 0.001);
    m.request('get', 'tile', 200, 0.001);
    m.request('GET', '/tile/0/x001/234', 200, 0.001);
    m.request('GET', 'resource-4711/fields', 200, 0.001);
    m.request('GET', 'a'.repeat(33), 200, 0.001);
    m.request('GET', 'a'.repeat(32), 200, 0.001);
    m.request('GET', 'Tile', 200, 0.001);
    m.request('GET', 'query', 1000, 0.001);
    m.request('GET', 'query', 200.5, 0.001);

    expect(await sampleValue(m, 'dirchain_refusals_total', { code: 'other' })).toBe(3);
    expect(await labelValues(m, 'dirchain_refusals_total', 'code')).toEqual([`E_${'A'.repeat(40)}`, 'other']);
    const count = 'dirchain_http_request_duration_seconds_count';
    expect(await labelValues(m, count, 'method')).toEqual(['GET', 'other']);
    expect(await labelValues(m, count, 'route')).toEqual(['a'.repeat(32), 'other', 'query', 'tile']);
    expect(await labelValues(m, count, 'status')).toEqual(['200', '207', 'other']);
    expect(await sampleValue(m, count, { method: 'other', route: 'tile', status: '207' })).toBe(1);
    expect(await sampleValue(m, count, { method: 'other', route: 'tile', status: '200' })).toBe(1);
    expect(await sampleValue(m, count, { method: 'GET', route: 'query', status: 'other' })).toBe(2);
    expect(await sampleValue(m, count, { method: 'GET', route: 'other', status: '200' })).toBe(4);
    const { body } = await m.render();
    expect(body).not.toContain('member-7f3a');
    expect(body).not.toContain('4711');
    expect(body).not.toContain('/tile');
  });

  it('keeps two nodes apart, and out of the global registry', async () => {
    const a = quiet();
    const b = quiet();
    a.appended(5);
    b.appended(1);
    a.refused('E_QUORUM');
    expect(await sampleValue(a, 'dirchain_appends_total')).toBe(5);
    expect(await sampleValue(b, 'dirchain_appends_total')).toBe(1);
    expect(await labelValues(b, 'dirchain_refusals_total', 'code')).toEqual([]);
    expect(a.registry).not.toBe(b.registry);
    expect(register.getSingleMetric('dirchain_appends_total')).toBeUndefined();
  });

  it('serves Prometheus text', async () => {
    const { contentType } = await quiet().render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
  });

  it('adds process metrics by default, to each node on its own', async () => {
    const a = createNodeMetrics();
    const b = createNodeMetrics();
    for (const m of [a, b]) {
      expect(await sampleValue(m, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);
      expect(await sampleValue(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    }
    expect(await sampleValue(quiet(), 'process_cpu_user_seconds_total')).toBeUndefined();
  });
});
