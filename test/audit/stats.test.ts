import { describe, expect, it } from 'vitest';
import { escapeHtml, renderHtml } from '../../src/audit/html.js';
import { buildReport } from '../../src/audit/report.js';
import { AuditStats, BUCKET_LADDER, MAX_BUCKETS } from '../../src/audit/stats.js';
import { estimateEta, formatDuration } from '../../src/cli/io.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const rec = (kind: string, author: string, body: unknown = {}) => ({ kind, author, body: body as never });

/** Feeds blocks of one record kind each: [time, author, count, kind]. */
function feed(stats: AuditStats, blocks: Array<[number, string, number, string?]>): void {
  let first = 0;
  for (const [time, author, count, kind] of blocks) {
    stats.addBlock({
      time,
      first,
      records: Array.from({ length: count }, () => rec(kind ?? 'x.note', author)),
    });
    first += count;
  }
}

describe('AuditStats (pure: blocks in, numbers out)', () => {
  it('counts kinds it does not know without reading their bodies, and flags them', () => {
    const s = new AuditStats();
    s.addBlock({
      time: T0,
      first: 0,
      records: [
        rec('x.app', 'a'),
        rec('batch.events', 'a', { events: [1, 2, 3] }),
        rec('batch.events', 'b', 'not even an object'),
        rec('access.log', 'b', { broken: true }), // a body this version cannot parse: counted, not read
      ],
    });
    const r = s.result();
    expect(r.records).toBe(4);
    expect(r.kinds).toEqual([
      { kind: 'batch.events', records: 2 },
      { kind: 'access.log', records: 1 },
      { kind: 'x.app', records: 1 },
    ]);
    expect(r.anomalies.counts['unknown-kind']).toBe(1);
    expect(r.anomalies.items[0]).toMatchObject({
      type: 'unknown-kind',
      subject: 'batch.events',
      count: 2,
      index: 1,
    });
    expect(r.scenarios).toEqual([]);
  });

  it('widens buckets along the ladder so any span fits, and the series still add up', () => {
    const s = new AuditStats();
    const blocks: Array<[number, string, number]> = [];
    for (let h = 0; h < 72; h++) blocks.push([T0 + h * 3_600_000 + 5 * MINUTE, h % 2 ? 'a' : 'b', h + 1]);
    feed(s, blocks);
    const r = s.result();
    expect(r.bucketMs).toBe(6 * 3_600_000); // 72 h does not fit in 60 one-hour buckets
    expect(BUCKET_LADDER).toContain(r.bucketMs);
    expect(r.buckets.length).toBe(12);
    expect(r.buckets.length).toBeLessThanOrEqual(MAX_BUCKETS);
    expect(r.buckets[0]).toBe(T0);
    const total = (72 * 73) / 2;
    expect(r.records).toBe(total);
    expect(r.series.kinds['x.note']!.reduce((x, y) => x + y, 0)).toBe(total);
    expect(
      r.series.authors.a!.reduce((x, y) => x + y, 0) + r.series.authors.b!.reduce((x, y) => x + y, 0),
    ).toBe(total);
    // first bucket: hours 0..5 → 1+2+...+6
    expect(r.series.kinds['x.note']![0]).toBe(21);
    expect(r.firstTime).toBe(T0 + 5 * MINUTE);
  });

  it('finds a burst against the author’s own rate, not against a steady heavy writer', () => {
    const s = new AuditStats();
    const blocks: Array<[number, string, number]> = [];
    for (let m = 0; m < 120; m++) blocks.push([T0 + m * MINUTE, 'quiet', 1]);
    blocks.push([T0 + 120 * MINUTE, 'quiet', 200]);
    for (let m = 0; m < 3; m++) blocks.push([T0 + (121 + m) * MINUTE, 'steady', 150]);
    feed(s, blocks);
    const r = s.result();
    expect(r.anomalies.counts.burst).toBe(1);
    const burst = r.anomalies.items.find((a) => a.type === 'burst')!;
    expect(burst).toMatchObject({ subject: 'quiet', count: 200, index: 120, time: T0 + 120 * MINUTE });
  });

  it('keeps at most maxAnomalies items per type but counts all', () => {
    const s = new AuditStats({ maxAnomalies: 2 });
    for (let i = 0; i < 5; i++) s.addBlock({ time: T0, first: i, records: [rec(`new.kind${i}`, 'a')] });
    const r = s.result();
    expect(r.anomalies.counts['unknown-kind']).toBe(5);
    expect(r.anomalies.items.length).toBe(2);
    expect(s.result()).toEqual(r); // result() does not consume the streaming state
  });
});

describe('renderHtml', () => {
  it('escapes everything that came from the ledger', () => {
    expect(escapeHtml(`<a href="x">'&`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;');
    const s = new AuditStats();
    s.addBlock({ time: T0, first: 0, records: [rec('x.note', '<script>alert(1)</script>')] });
    const html = renderHtml(
      buildReport({
        source: '/tmp/<img src=x onerror=alert(1)>',
        verdict: {
          ok: false,
          records: 1,
          blocks: 1,
          error: { code: 'E_BAD_SIGNATURE', message: "record 1's <b>signature</b>", index: 1 },
        },
        statistics: s.result(),
        keyTrusted: false,
        generatedAt: T0,
      }),
    );
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>signature');
    expect(html).toContain('NOT VERIFIED: E_BAD_SIGNATURE');
    expect(html).toContain('first bad record index: 1');
    expect(html.match(/<svg /g)?.length).toBe(4);
  });
});

describe('progress ETA', () => {
  it('estimates from the average rate and formats briefly', () => {
    expect(estimateEta(0, 100, 5)).toBeUndefined();
    expect(estimateEta(25, 100, 10)).toBe(30);
    expect(estimateEta(100, 100, 10)).toBe(0);
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(3725)).toBe('1h02m');
  });
});
