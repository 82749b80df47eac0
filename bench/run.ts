/**
 * Benchmark runner: runs every figure, prints one table to stdout and writes
 * the results as JSON to bench/results/<timestamp>.json.
 *
 *   npm run bench                  full run (1M records per figure-1 run)
 *   npm run bench -- --quick       smoke run, about a minute and a half
 *   npm run bench -- --only=7      figure 7 alone: the node over loopback (client → child process)
 *   options: --n=<records> --runs=<count> --seed=<int> --only=<figure>[,<figure>…]
 *            --memory-n=<records> (figure 6's record count)
 *            --variants=<id>[,<id>…] (figure 1: e.g. A-ev,B-ev,batch for the batched path;
 *            figure 7: batch, single, queries)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { figureAppend } from './append.js';
import { figureDirectory } from './directory.js';
import type { BenchContext, FigureResult, Row } from './lib.js';
import { figureMemory } from './memory.js';
import { figureProofs } from './proofs.js';
import { figureRemote } from './remote.js';
import { figureReplication } from './replication.js';
import { figureStatus } from './status.js';
import { figureVerify } from './verify.js';

const FIGURES: ReadonlyArray<{ id: string; run: (ctx: BenchContext) => Promise<FigureResult> }> = [
  { id: '1', run: figureAppend },
  { id: '2', run: figureVerify },
  { id: '3', run: figureProofs },
  { id: '4', run: figureReplication },
  { id: '5', run: figureDirectory },
  { id: '6', run: figureMemory },
  { id: '7', run: figureRemote },
  { id: '8', run: figureStatus },
];

function parseOptions(): {
  quick: boolean;
  n: number;
  memoryN: number;
  runs: number;
  seed: number;
  only: string[];
  variants: string[];
} {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      'memory-n': { type: 'string' },
      variants: { type: 'string' },
    },
    strict: true,
  });
  const int = (text: string | undefined, fallback: number, min: number, what: string): number => {
    if (text === undefined) return fallback;
    const v = Number(text);
    if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${what} must be an integer ≥ ${min}`);
    return v;
  };
  const only =
    values.only === undefined ? FIGURES.map((f) => f.id) : values.only.split(',').map((s) => s.trim());
  for (const id of only) {
    if (!FIGURES.some((f) => f.id === id))
      throw new Error(`--only: no figure ${id} (figures: ${FIGURES.map((f) => f.id).join(', ')})`);
  }
  return {
    only,
    variants: values.variants === undefined ? [] : values.variants.split(',').map((s) => s.trim()),
    quick: values.quick ?? false,
    n: int(values.n, 0, 1, 'n'),
    memoryN: int(values['memory-n'], 0, 10, 'memory-n'),
    runs: int(values.runs, 3, 3, 'runs'),
    seed: int(values.seed, 20_251_123, 0, 'seed'),
  };
}

const fmtInt = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en-US');
const fmt = (v: number | undefined, digits: number): string =>
  v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);

/** One table, fixed-width columns. */
export function formatTable(figures: readonly FigureResult[]): string {
  const header = [
    'fig',
    'variant',
    'rate/s',
    'MB/s',
    '× ref',
    '× ref 2',
    'p50 ms',
    'p99 ms',
    'disk B/rec',
    'peak RSS MiB',
    'note',
  ];
  const right = [false, false, true, true, true, true, true, true, true, true, false];
  const lines: string[][] = [];
  for (const f of figures) {
    for (const r of f.rows as Row[]) {
      lines.push([
        r.figure,
        r.variant,
        fmtInt(r.recordsPerSec),
        fmt(r.mbPerSec, 1),
        // A reference left out (--variants) makes the ratio NaN: printed as —.
        r.ratio === undefined || !Number.isFinite(r.ratio) ? '—' : `${r.ratio.toFixed(3)}×`,
        r.ratio2 === undefined || !Number.isFinite(r.ratio2) ? '—' : `${r.ratio2.toFixed(3)}×`,
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        fmt(r.diskBytesPerRecord, 1),
        fmt(r.peakRssMiB, 0),
        r.extra ?? '',
      ]);
    }
  }
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const row = (cells: string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out = [
    row(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...lines.map(row),
    '',
    'rate/s: records/s (figures 1, 2, 4, 6; figure 5 load rows; figure 7 append rows), proofs/s (figure 3) or queries/s ' +
      "(figure 5 and 7 query rows); × ref: ratio to the figure's reference (figure 1: A; figure 2: async Ed25519 verification; " +
      'figure 3: the SHA-256 loop; figure 4: the same follower from the local folder; figure 5: its ref rows; figure 6: see its notes; ' +
      'figure 7: the in-process ref row above, same round); × ref 2: a second reference ' +
      '(figure 1: B, hypercore; figure 2: sync verification; figure 3: noble SHA-256 loop, pure-JS rows; ' +
      'figure 4: the raw HTTP fetch).',
  ];
  for (const f of figures) {
    out.push('', `Figure ${f.figure}: ${f.title}`);
    for (const n of f.notes) out.push(`  - ${n}`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const startedAt = new Date();
  const loadStart = loadavg();
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  if (globalThis.gc === undefined) log('note: run node with --expose-gc for a GC between runs');
  // The node flags are part of the configuration measured: npm run bench starts node with
  // --initial-old-space-size=64 --v8-pool-size=1, as the README says to start a sequencer process.
  const flags = process.execArgv.join(' ') || 'no flags';
  log(
    `dirchain bench ${options.quick ? '(quick) ' : ''}node ${process.version} (${flags}), ${cpus().length} CPUs, ` +
      `load ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const ctx: BenchContext = { ...options, log };
  const figures: FigureResult[] = [];
  const figureSeconds: Record<string, number> = {};
  for (const figure of FIGURES) {
    if (!options.only.includes(figure.id)) continue;
    const t0 = performance.now();
    figures.push(await figure.run(ctx));
    figureSeconds[figure.id] = (performance.now() - t0) / 1000;
    log(`figure ${figure.id} done in ${figureSeconds[figure.id]!.toFixed(1)} s`);
  }
  const finishedAt = new Date();
  const loadEnd = loadavg();
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;

  const table = formatTable(figures);
  process.stdout.write(
    `\n${table}\n\nnode ${process.version} (${flags}), ${cpus().length}× ${cpus()[0]?.model ?? '?'}; ` +
      `load avg ${loadStart.map((l) => l.toFixed(2)).join('/')} → ${loadEnd.map((l) => l.toFixed(2)).join('/')}; ` +
      `process peak RSS ${maxRssMiB.toFixed(0)} MiB; ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s\n`,
  );

  const resultsDir = fileURLToPath(new URL('../bench/results/', import.meta.url));
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const json = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options,
    env: {
      node: process.version,
      nodeFlags: process.execArgv,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      totalMemMiB: Math.round(totalmem() / (1024 * 1024)),
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
      exposeGc: globalThis.gc !== undefined,
      processPeakRssMiB: maxRssMiB,
    },
    figureSeconds,
    figures,
    table,
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  log(`results written to ${file}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
