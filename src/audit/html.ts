/**
 * Renders an audit report as one self-contained HTML page: inline CSS, inline
 * SVG charts, no scripts, no external requests, readable printed. Pure: the
 * report in, a string out. Every value from the ledger (kinds, ids, names,
 * messages) is escaped — a ledger is not trusted to be harmless markup.
 */
import type { AuditReport } from './report.js';
import type { Anomaly, Series } from './stats.js';

/** Okabe–Ito colours: distinguishable with colour-blindness and in greyscale print. */
const COLORS = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#56B4E9',
  '#CC79A7',
  '#F0E442',
  '#000000',
  '#999999',
];
const TOP = 8;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const e = escapeHtml;

const fmt = (n: number): string => n.toLocaleString('en-US');

function when(ms: number, bucketMs: number): string {
  const iso = new Date(ms).toISOString();
  return bucketMs >= 86_400_000 ? iso.slice(0, 10) : `${iso.slice(0, 16).replace('T', ' ')}`;
}

function widthName(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? '' : 's'}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  return `${ms / 60_000} min`;
}

/** The `TOP` largest series by total, the rest summed as "other". */
function topSeries(series: Series, length: number): Array<{ name: string; values: number[] }> {
  const all = Object.entries(series)
    .map(([name, values]) => ({ name, values, total: values.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total || a.name.localeCompare(b.name));
  const top = all.slice(0, TOP).map(({ name, values }) => ({ name, values }));
  if (all.length > TOP) {
    const other = new Array<number>(length).fill(0);
    for (const s of all.slice(TOP)) {
      s.values.forEach((v, i) => {
        other[i]! += v;
      });
    }
    top.push({ name: `other (${all.length - TOP})`, values: other });
  }
  return top;
}

/** A stacked bar chart, one bar per bucket, as inline SVG. */
export function stackedBars(
  title: string,
  buckets: readonly number[],
  bucketMs: number,
  series: Array<{ name: string; values: number[] }>,
): string {
  const W = 720;
  const H = 220;
  const left = 56;
  const bottom = 28;
  const top = 12;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const totals = buckets.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const barW = buckets.length > 0 ? plotW / buckets.length : plotW;
  const gap = barW > 4 ? 1 : 0;
  const parts: string[] = [];
  buckets.forEach((b, i) => {
    let y = top + plotH;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (v === 0) return;
      const h = (v / max) * plotH;
      y -= h;
      parts.push(
        `<rect x="${(left + i * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0.5, barW - gap).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k % COLORS.length]}"><title>${e(`${s.name} ${when(b, bucketMs)}: ${fmt(v)}`)}</title></rect>`,
      );
    });
  });
  const axis = [
    `<line x1="${left}" y1="${top + plotH}" x2="${W - 8}" y2="${top + plotH}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#444"/>`,
    `<text x="${left - 4}" y="${top + 4}" text-anchor="end">${fmt(max)}</text>`,
    `<text x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>`,
  ];
  if (buckets.length > 0) {
    axis.push(`<text x="${left}" y="${H - 8}">${e(when(buckets[0]!, bucketMs))}</text>`);
    if (buckets.length > 1)
      axis.push(
        `<text x="${W - 8}" y="${H - 8}" text-anchor="end">${e(when(buckets.at(-1)!, bucketMs))}</text>`,
      );
  }
  const legend = series
    .map(
      (s, k) =>
        `<span class="key"><span class="swatch" style="background:${COLORS[k % COLORS.length]}"></span>${e(s.name)} (${fmt(s.values.reduce((a, b) => a + b, 0))})</span>`,
    )
    .join(' ');
  return `<figure><figcaption>${e(title)} <small>(bars of ${e(widthName(bucketMs))}, block time, UTC)</small></figcaption>
<svg class="chart" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${e(title)}">${axis.join('')}${parts.join('')}</svg>
<div class="legend">${series.length > 0 ? legend : 'no records'}</div></figure>`;
}

function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="n"' : ''}>${e(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

const ANOMALY_TEXT: Record<Anomaly['type'], string> = {
  'access-before-revocation':
    'access logs on a grant in the window W before that grant was revoked (later ones are refused, so this is what the ledger can show)',
  'access-near-expiry': 'access logs on a grant in the window W before it expired',
  'level4-grant': 'grants covering level-4 (core) fields, with who countersigned',
  'authored-before-suspension': 'records a member wrote in the window W before it was suspended or removed',
  burst:
    "one author's records in one minute: at least the minimum and at least the factor × that author's mean per active minute",
  'unknown-kind': 'records of a kind this version of the report does not know (counted, bodies not read)',
};

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;margin:2em auto;max-width:60em;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
.verdict{padding:.8em 1em;border:2px solid;margin:1em 0;font-weight:600}
.ok{border-color:#009E73;background:#e9f7f2}.bad{border-color:#D55E00;background:#fbeee6}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:#555}dd{margin:0;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0;break-inside:avoid}figcaption{font-weight:600;margin-bottom:.3em}
.chart text{font-size:11px;fill:#333}.legend{font-size:12px}.key{margin-right:1em;white-space:nowrap}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em;border:1px solid #0003}
code{font-size:.95em}.none{color:#777}small{color:#555;font-weight:normal}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}table,figure{break-inside:avoid}.verdict{background:none}}
`;

export function renderHtml(r: AuditReport): string {
  const s = r.statistics;
  const v = r;
  const verdict = v.ok
    ? `<div class="verdict ok">VERIFIED: ${fmt(v.records - v.blocks)} records in ${fmt(v.blocks)} blocks (${fmt(v.records)} log entries with their block entries) — every block note, link and root, every record signature and admission verdict checked.</div>`
    : `<div class="verdict bad">NOT VERIFIED: ${e(v.error?.code ?? 'error')} — ${e(v.error?.message ?? '')}${
        v.error?.index === undefined ? '' : `<br>first bad record index: ${v.error.index}`
      }${v.error?.height === undefined ? '' : ` (block ${v.error.height})`}<br>${fmt(v.records)} log entries before it verified; the figures below cover those.</div>`;
  const facts: Array<[string, string]> = [
    ['source', e(r.source)],
    ['origin', e(r.origin ?? 'unknown')],
    [
      'sequencer key',
      `<code>${e(r.sequencerKey ?? 'unknown')}</code>${r.keyTrusted ? ' (matches a key given to the audit)' : ' (taken from genesis; compare with the published key)'}`,
    ],
    ['records', fmt(s.records)],
    ['blocks', fmt(s.blocks)],
    ['time span', r.timeSpan ? `${e(r.timeSpan.from)} — ${e(r.timeSpan.to)}` : 'none'],
    ['report made', e(r.generatedAt)],
  ];
  if (r.fetched)
    facts.push(['fetched', `${fmt(r.fetched.requests)} requests, ${fmt(r.fetched.bytes)} bytes`]);
  const n = s.buckets.length;
  const grantSeries = [
    { name: 'issued', values: s.series.grants.issued },
    { name: 'revoked', values: s.series.grants.revoked },
  ];
  const anomalies = s.anomalies;
  const anomalyRows = (Object.keys(ANOMALY_TEXT) as Anomaly['type'][]).map((t) => [
    `<code>${t}</code>`,
    e(ANOMALY_TEXT[t]),
    fmt(anomalies.counts[t]),
  ]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>dirchain audit: ${e(r.origin ?? r.source)}</title><style>${CSS}</style></head>
<body>
<h1>Ledger audit report</h1>
<p>${e(r.origin ?? '')}</p>
${verdict}
<dl>${facts.map(([k, val]) => `<dt>${e(k)}</dt><dd>${val}</dd>`).join('')}</dl>

<h2>Records per kind</h2>
${stackedBars('Records per kind over time', s.buckets, s.bucketMs, topSeries(s.series.kinds, n))}
${table(
  ['kind', 'records'],
  s.kinds.map((k) => [`<code>${e(k.kind)}</code>`, fmt(k.records)]),
  [false, true],
)}

<h2>Records per department (author)</h2>
${stackedBars('Records per author over time', s.buckets, s.bucketMs, topSeries(s.series.authors, n))}
${table(
  ['member', 'records', 'by kind'],
  s.authors.map((a) => [
    e(a.id),
    fmt(a.records),
    e(
      Object.entries(a.kinds)
        .sort((x, y) => y[1] - x[1])
        .map(([k, c]) => `${k} ${fmt(c)}`)
        .join(', '),
    ),
  ]),
  [false, true, false],
)}

<h2>Grants</h2>
<p>${fmt(s.grants.issued)} issued, ${fmt(s.grants.revoked)} revoked, ${fmt(s.grants.level4)} covering level-4 fields.</p>
${stackedBars('Grants issued and revoked over time', s.buckets, s.bucketMs, grantSeries)}

<h2>Access logs per scenario</h2>
${stackedBars('Access logs per scenario over time', s.buckets, s.bucketMs, topSeries(s.series.accessByScenario, n))}
${table(
  ['scenario', 'name', 'grants', 'access logs', 'items used'],
  s.scenarios.map((x) => [
    `<code>${e(x.id)}</code>`,
    e(x.name ?? ''),
    fmt(x.grants),
    fmt(x.accessLogs),
    fmt(x.items),
  ]),
  [false, false, true, true, true],
)}

<h2>Anomalies</h2>
<p>Refused attempts never reach the ledger; these are patterns among the accepted records. W = ${e(widthName(anomalies.window))}.</p>
${table(['type', 'definition', 'found'], anomalyRows, [false, false, true])}
${table(
  ['record', 'block time', 'type', 'subject', 'detail'],
  anomalies.items.map((a) => [
    String(a.index),
    e(new Date(a.time).toISOString()),
    `<code>${a.type}</code>`,
    e(a.subject),
    e(a.detail) + (a.first !== undefined && a.last !== undefined ? ` (records ${a.first}–${a.last})` : ''),
  ]),
  [true, false, false, false, false],
)}
<p><small>Generated by dirchain audit. Format ${e(r.format)}; the same figures are in report.json.</small></p>
</body></html>
`;
}
