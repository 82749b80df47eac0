import { readFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { formatVerifierKey } from '../src/crypto/note.js';
import {
  connect,
  createLedger,
  type Ledger,
  type LedgerApi,
  loadSigner,
  type MemberSigner,
  openLedger,
  type RemoteLedger,
} from '../src/index.js';
import { CONCURRENCY, EVENTS_PER_BATCH } from './append.js';
import { type BenchChild, benchCli, nodeFolder, startChild } from './child.js';
import { type Call, latencies, loadCity, measure, QUICK_FRACTION, type QueryRun } from './directory.js';
import { BatchStream, callersAwaitingEach } from './feed.js';
import {
  type BenchContext,
  collectGarbage,
  type FigureResult,
  MB,
  median,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import { PackedBytes } from './packed.js';
import {
  type AccessLogs,
  BASE_TIME,
  type City,
  type Directory,
  FULL_CITY,
  generateAccessLogs,
  makeDirectory,
  planCity,
  Rng,
  scaledCity,
} from './workload.js';

/** Events per timed batch run (64 per batch). */
const FULL_BATCH_N = 256_000;
const QUICK_BATCH_N = 5_000;
/** Single signed records per timed run (the single path is ~20× slower per record). */
const FULL_SINGLE_N = 10_000;
const QUICK_SINGLE_N = 500;
/** Untimed prefix appended into each fresh ledger before the timed records (other bytes). */
const FULL_PREFIX = { batch: 20_000, single: 2_000 };
const QUICK_PREFIX = { batch: 1_000, single: 100 };
/** Queries per measured run, and per warm-up in each process before its runs. */
const FULL_QUERIES = 400;
const QUICK_QUERIES = 50;
const FULL_QUERY_WARMUP = 60;
const QUICK_QUERY_WARMUP = 20;
/** Arguments whose remote answers are checked against the in-process ones (untimed). */
const CHECKED_ARGS = 100;
const DAY = 86_400_000;
/** How long the node may take to print its URL. */
const NODE_START_MS = 60_000;
/** Extra node flags for the child (profiling), from the environment. */
const NODE_FLAGS_ENV = 'DIRCHAIN_BENCH_NODE_FLAGS';
/** The bench's own V8 flags the node child inherits (the way a sequencer is started). */
const INHERITED_FLAGS = /^--(initial-old-space-size|max-old-space-size|v8-pool-size)=/;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

// ---- the node child process -------------------------------------------------------------------

/** `dirchain node <dir> --json` as a child process (bench/child.ts): started, its URL read, its CPU read, stopped. */
class NodeProcess {
  readonly url: string;
  readonly #child: BenchChild;

  private constructor(child: BenchChild) {
    this.#child = child;
    this.url = child.first.url as string;
  }

  static flags(): string[] {
    const extra = (process.env[NODE_FLAGS_ENV] ?? '').split(/\s+/).filter(Boolean);
    return [...process.execArgv.filter((f) => INHERITED_FLAGS.test(f)), ...extra];
  }

  static async start(dir: string): Promise<NodeProcess> {
    const cli = benchCli('figure 7');
    return new NodeProcess(
      await startChild('dirchain node', [...NodeProcess.flags(), cli, 'node', dir, '--json'], NODE_START_MS),
    );
  }

  /** CPU seconds the node has used so far (all its threads: main, admission workers, LevelDB, libuv). */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.#child.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start at ") "; utime, stime are 14, 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
    } catch {
      return Number.NaN;
    }
  }

  /** The node's peak RSS so far (VmHWM), MiB. */
  peakRssMiB(): number {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.#child.pid}/status`, 'utf8'));
      return m === null ? Number.NaN : Number(m[1]) / 1024;
    } catch {
      return Number.NaN;
    }
  }

  /** SIGTERM (the node finishes its blocks and closes the folder), SIGKILL if it has not gone in 20 s. */
  async stop(): Promise<void> {
    const code = await this.#child.stop(20_000);
    if (code !== 0) throw new Error(`dirchain node exited with code ${code} when stopped`);
  }
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ---- appends ------------------------------------------------------------------------------------

type AppendKind = 'batch' | 'single';
const PARTS = ['batch', 'single', 'queries'] as const;
type Where = 'local' | 'remote';

interface AppendData {
  readonly kind: AppendKind;
  /** Units appended one per call: batches or records. */
  readonly count: number;
  /** Records (events or signed records) they hold, and their entry bytes. */
  readonly records: number;
  readonly bytes: number;
  /** Calls `target` with unit i (same bytes whichever target). */
  readonly call: (target: LedgerApi, i: number) => Promise<{ index: number }>;
  /** The entry bytes of a record of unit i (for the byte-identity check). */
  readonly entryOf: (i: number) => Uint8Array;
  /** Entries unit i adds to the log (block entries aside). */
  readonly entries: (i: number) => number;
}

/**
 * Figure 1's batched form, pre-signed and packed: the access logs of one continuous generator,
 * 64 per department to a batch signed once (`BatchStream`: the same bytes, batch for batch, as
 * figure 1's `batchesOf` for its complete batches).
 */
interface PackedBatches {
  readonly count: number;
  readonly seals: PackedBytes;
  readonly events: PackedBytes;
  /** Batch k's events are `events` starts[k] .. starts[k + 1] - 1. */
  readonly starts: Uint32Array;
}

function packedBatches(dir: Directory, seed: number, events: number): PackedBatches {
  const stream = new BatchStream(dir, seed, EVENTS_PER_BATCH);
  const count = Math.ceil(events / EVENTS_PER_BATCH);
  const seals = new PackedBytes();
  const packed = new PackedBytes();
  const starts = new Uint32Array(count + 1);
  for (let k = 0; k < count; k++) {
    const b = stream.next();
    seals.push(b.seal);
    for (const e of b.events) packed.push(e);
    starts[k + 1] = packed.count;
  }
  return { count, seals, events: packed, starts };
}

function batchData(b: PackedBatches, count = b.count): AppendData {
  return {
    kind: 'batch',
    count,
    records: b.starts[count]!,
    bytes: b.events.bytesIn(0, b.starts[count]!),
    // The seal in its own buffer, as figure 1 does (appendBatch posts views of it to its admission
    // worker, and cloning a view copies its whole backing buffer); the client copies it into its body.
    call: async (t, i) => {
      const r = await t.appendBatch(b.seals.at(i).slice(), b.events.views(b.starts[i]!, b.starts[i + 1]!));
      return { index: r.first };
    },
    entryOf: (i) => b.events.at(b.starts[i]!),
    entries: (i) => 1 + b.starts[i + 1]! - b.starts[i]!,
  };
}

function singleData(logs: AccessLogs, count: number): AppendData {
  const entries = logs.entries;
  return {
    kind: 'single',
    count,
    records: count,
    bytes: entries.bytesIn(0, count),
    call: (t, i) => t.append(entries.at(i)),
    entryOf: (i) => entries.at(i),
    entries: () => 1,
  };
}

interface AppendRun {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly blocks: number;
  /** CPU seconds over the timed section: this process (all threads), and the node child. */
  readonly benchCpuSeconds: number;
  readonly nodeCpuSeconds?: number;
  readonly peakRssMiB: number;
  readonly nodePeakRssMiB?: number;
}

/** The genesis and options of every figure-7 append ledger, in-process or under the node. */
function createAppendLedger(path: string, dir: Directory, skewMs: number): Promise<Ledger> {
  return createLedger(path, {
    origin: dir.origin,
    sequencerKey: dir.sequencerKey,
    members: [...dir.members],
    durability: 'sync',
    policy: { maxClockSkewMs: skewMs },
  });
}

interface AppendSetup {
  readonly dir: Directory;
  readonly skewMs: number;
  readonly verifierKey: string;
  readonly as: MemberSigner;
}

/** One run: a fresh folder, the prefix (untimed), then `data` from CONCURRENCY callers (timed). */
async function runAppend(
  s: AppendSetup,
  where: Where,
  prefix: AppendData,
  data: AppendData,
): Promise<AppendRun> {
  const parent = await tempDir(`remote-${data.kind}-${where}`);
  const path = join(parent, 'ledger');
  const rss = new RssSampler();
  let ledger: Ledger | undefined;
  let node: NodeProcess | undefined;
  let client: RemoteLedger | undefined;
  try {
    ledger = await createAppendLedger(path, s.dir, s.skewMs);
    let target: LedgerApi;
    if (where === 'local') {
      await ledger.workersStarted();
      target = ledger;
    } else {
      await ledger.close();
      ledger = undefined;
      await nodeFolder(parent, s.dir.sequencerKey);
      node = await NodeProcess.start(parent);
      client = await connect(node.url, { verifierKey: s.verifierKey, as: s.as });
      target = client;
    }
    const t = target;
    await callersAwaitingEach(prefix.count, CONCURRENCY, (i) => prefix.call(t, i));
    const before = where === 'local' ? ledger!.head() : await client!.head();
    collectGarbage();
    const placed = new Float64Array(data.count);
    rss.start();
    const nodeCpu0 = node?.cpuSeconds() ?? Number.NaN;
    const cpu0 = cpuNow();
    const start = performance.now();
    const lat = await callersAwaitingEach(data.count, CONCURRENCY, async (i) => {
      placed[i] = (await data.call(t, i)).index;
    });
    const seconds = (performance.now() - start) / 1000;
    const benchCpuSeconds = cpuNow() - cpu0;
    const nodeCpuSeconds = node === undefined ? undefined : node.cpuSeconds() - nodeCpu0;
    const peakRssMiB = rss.stop();
    const after = where === 'local' ? ledger!.head() : await client!.head();
    // The timed units' entries, plus the block entry that ends each new block.
    let expected = 0;
    for (let i = 0; i < data.count; i++) expected += data.entries(i);
    const blocks = after.height - before.height;
    if (after.size - before.size !== expected + blocks)
      throw new Error(
        `${data.kind} ${where}: ${after.size - before.size} entries appended, expected ${expected} + ${blocks} block entries`,
      );
    // A few records are read back (the node's through a verified inclusion bundle): the same bytes.
    const sample = [...new Set([0, 7 % data.count, data.count >> 1, data.count - 1])];
    for (const i of sample) {
      const stored = ledger ? ledger.getEntry(placed[i]!) : (await client!.proveInclusion(placed[i]!)).leaf;
      if (Buffer.compare(stored, data.entryOf(i)) !== 0)
        throw new Error(`${data.kind} ${where}: entry ${placed[i]} differs from the bytes sent (unit ${i})`);
    }
    const nodePeakRssMiB = node?.peakRssMiB();
    return {
      records: data.records,
      seconds,
      recordsPerSec: data.records / seconds,
      mbPerSec: data.bytes / seconds / MB,
      ...latencies(lat),
      blocks,
      benchCpuSeconds,
      peakRssMiB,
      ...(nodeCpuSeconds === undefined ? {} : { nodeCpuSeconds }),
      ...(nodePeakRssMiB === undefined ? {} : { nodePeakRssMiB }),
    };
  } finally {
    rss.stop();
    await client?.close();
    await node?.stop();
    await ledger?.close();
    await removeDir(parent);
  }
}

// ---- queries ------------------------------------------------------------------------------------

type QueryKey = 'search.department' | 'activeGrants' | 'grantsOfResource';
const QUERY_KEYS: readonly QueryKey[] = ['search.department', 'activeGrants', 'grantsOfResource'];
const QUERY_LABELS: Record<QueryKey, string> = {
  'search.department': 'searchResources({ department })',
  activeGrants: 'activeGrants(consumer, T)',
  grantsOfResource: 'grantsOfResource(resource)',
};

interface QueryArgs {
  readonly departments: string[];
  readonly consumers: Array<{ consumer: string; at: number }>;
  readonly resources: string[];
}

/** figure 5's argument distributions (departments uniform; T now / past / next year 50/30/20 %; the resource of a random grant). */
function queryArgs(city: City, n: number, seed: number): QueryArgs {
  const rng = new Rng(seed ^ 0x7e3a51c9);
  const depts = city.dir.departments.map((d) => d.id);
  const departments = Array.from({ length: n }, () => rng.pick(depts));
  const consumers = Array.from({ length: n }, () => {
    const u = rng.float();
    const at =
      u < 0.5 ? city.now : u < 0.8 ? city.now - rng.int(0, 365) * DAY : city.now + rng.int(0, 365) * DAY;
    return { consumer: rng.pick(depts), at };
  });
  const resources = Array.from({ length: n }, () => rng.pick(city.grants).input.resource);
  return { departments, consumers, resources };
}

type Page = { items: ReadonlyArray<{ id: string; index: number }> };
type Awaitable<T> = T | Promise<T>;

/** The three queries against `api` (a Ledger answers synchronously: no await then, as in figure 5). */
function queryCalls(api: LedgerApi, a: QueryArgs, seen: Record<QueryKey, string[]>): Record<QueryKey, Call> {
  const q = api.query;
  const counted =
    (key: QueryKey, page: (i: number) => Awaitable<Page>): Call =>
    (i) => {
      const r = page(i);
      const done = (p: Page): number => {
        if (i < CHECKED_ARGS) seen[key][i] = p.items.map((x) => `${x.id}@${x.index}`).join();
        return p.items.length;
      };
      return r instanceof Promise ? r.then(done) : done(r);
    };
  return {
    'search.department': counted('search.department', (i) =>
      q.searchResources({ department: a.departments[i]! }),
    ),
    activeGrants: counted('activeGrants', (i) =>
      q.activeGrants(a.consumers[i]!.consumer, a.consumers[i]!.at),
    ),
    grantsOfResource: counted('grantsOfResource', (i) => q.grantsOfResource(a.resources[i]!)),
  };
}

interface QueryProcessRun {
  readonly runs: Record<QueryKey, QueryRun>;
  readonly benchCpuSeconds: Record<QueryKey, number>;
  readonly nodeCpuSeconds?: Record<QueryKey, number>;
  readonly nodePeakRssMiB?: number;
}

const emptySeen = (): Record<QueryKey, string[]> => ({
  'search.department': [],
  activeGrants: [],
  grantsOfResource: [],
});

/** One process's turn in a round: warm-up, then each query's measured run. */
async function measureQueries(
  api: LedgerApi,
  args: QueryArgs,
  n: number,
  warmup: number,
  node: NodeProcess | undefined,
  seen: Record<QueryKey, string[]>,
): Promise<QueryProcessRun> {
  const calls = queryCalls(api, args, seen);
  // Warm-up on the last arguments (the measured runs start from the first).
  for (const key of QUERY_KEYS) {
    const c = calls[key];
    await measure(warmup, (i) => c(n - 1 - i));
  }
  const runs = {} as Record<QueryKey, QueryRun>;
  const benchCpuSeconds = {} as Record<QueryKey, number>;
  const nodeCpuSeconds = {} as Record<QueryKey, number>;
  for (const key of QUERY_KEYS) {
    collectGarbage();
    const nodeCpu0 = node?.cpuSeconds() ?? Number.NaN;
    const cpu0 = cpuNow();
    runs[key] = await measure(n, calls[key]);
    benchCpuSeconds[key] = cpuNow() - cpu0;
    nodeCpuSeconds[key] = (node?.cpuSeconds() ?? Number.NaN) - nodeCpu0;
  }
  return {
    runs,
    benchCpuSeconds,
    ...(node === undefined ? {} : { nodeCpuSeconds, nodePeakRssMiB: node.peakRssMiB() }),
  };
}

/** One round: the folder opened in this process, measured, closed; then the node on it, measured, stopped. */
async function queryRound(
  dir: string,
  args: QueryArgs,
  n: number,
  warmup: number,
  verifierKey: string,
  as: MemberSigner,
): Promise<{ local: QueryProcessRun; remote: QueryProcessRun }> {
  const localSeen = emptySeen();
  const ledger = await openLedger(join(dir, 'ledger'));
  let local: QueryProcessRun;
  try {
    local = await measureQueries(ledger, args, n, warmup, undefined, localSeen);
  } finally {
    await ledger.close();
  }
  const remoteSeen = emptySeen();
  const node = await NodeProcess.start(dir);
  let remote: QueryProcessRun;
  try {
    const client = await connect(node.url, { verifierKey, as });
    try {
      remote = await measureQueries(client, args, n, warmup, node, remoteSeen);
    } finally {
      await client.close();
    }
  } finally {
    await node.stop();
  }
  for (const key of QUERY_KEYS) {
    for (let i = 0; i < Math.min(n, CHECKED_ARGS); i++) {
      if (localSeen[key][i] !== remoteSeen[key][i])
        throw new Error(`${key} #${i}: the node's answer differs from the in-process one`);
    }
  }
  return { local, remote };
}

// ---- the figure ---------------------------------------------------------------------------------

const fmtN = (v: number): string => Math.round(v).toLocaleString('en-US');
const fmtMs = (v: number): string => v.toFixed(2);

interface Part {
  readonly rows: Row[];
  readonly notes: string[];
  readonly details: Record<string, unknown>;
}

interface Common {
  readonly ctx: BenchContext;
  readonly log: (line: string) => void;
  readonly dir: Directory;
  readonly verifierKey: string;
  /** Who the client signs its reads as: a department. */
  readonly as: MemberSigner;
}

/** The appends: batched and single, each local then remote per round. */
async function appendPart(c: Common, kinds: readonly AppendKind[]): Promise<Part> {
  const { ctx, log, dir } = c;
  const batchN = ctx.quick ? QUICK_BATCH_N : FULL_BATCH_N;
  const singleN = ctx.quick ? QUICK_SINGLE_N : FULL_SINGLE_N;
  const prefixN = ctx.quick ? QUICK_PREFIX : FULL_PREFIX;
  log(
    `figure 7: generating and signing ${fmtN(batchN)} events (batches of ${EVENTS_PER_BATCH}) and ${fmtN(singleN)} records...`,
  );
  // The node reads its clock (Date.now) for request signatures and block times; the records are
  // timestamped from 2025-01-01 on (figure 1's bytes). The window must cover both: from the
  // records' time to today, plus 30 days. Same genesis for the in-process ledgers.
  const skewMs = Math.ceil((Date.now() - BASE_TIME) / DAY + 30) * DAY;
  // The timed records (figure 1's seed) and the prefixes (another seed), all pre-signed.
  const prefixSeed = ctx.seed ^ 0x2545f491;
  const batches = packedBatches(dir, ctx.seed, batchN);
  const prefixBatches = packedBatches(dir, prefixSeed, prefixN.batch);
  const records = generateAccessLogs(dir, singleN);
  const prefixRecords = generateAccessLogs(dir, prefixN.single, prefixSeed);
  const data: Record<AppendKind, AppendData> = {
    batch: batchData(batches),
    single: singleData(records, singleN),
  };
  // The warm-up round: the first of the same records, as many as a prefix.
  const warmData: Record<AppendKind, AppendData> = {
    batch: batchData(batches, prefixBatches.count),
    single: singleData(records, prefixN.single),
  };
  const prefix: Record<AppendKind, AppendData> = {
    batch: batchData(prefixBatches),
    single: singleData(prefixRecords, prefixN.single),
  };
  const setup: AppendSetup = { dir, skewMs, verifierKey: c.verifierKey, as: c.as };
  log(
    `  ${fmtN(batches.count)} batches (${(batches.events.totalBytes / batches.events.count).toFixed(1)} B/event), ` +
      `${fmtN(singleN)} records (${(records.totalBytes / singleN).toFixed(1)} B)`,
  );

  // Round-robin: batch local, batch remote, single local, single remote.
  const order: Array<[AppendKind, Where]> = kinds.flatMap(
    (k): Array<[AppendKind, Where]> => [
      [k, 'local'],
      [k, 'remote'],
    ],
  );
  const warmup: Record<string, AppendRun> = {};
  for (const [kind, where] of order) {
    const w = await runAppend(setup, where, prefix[kind], warmData[kind]);
    warmup[`${kind}-${where}`] = w;
    log(`  warm-up ${kind} ${where}: ${fmtN(w.recordsPerSec)} rec/s`);
    collectGarbage();
  }
  const runs: Record<string, AppendRun[]> = Object.fromEntries(order.map(([k, w]) => [`${k}-${w}`, []]));
  for (let r = 0; r < ctx.runs; r++) {
    for (const [kind, where] of order) {
      const run = await runAppend(setup, where, prefix[kind], data[kind]);
      runs[`${kind}-${where}`]!.push(run);
      log(
        `  run ${r + 1}/${ctx.runs} ${kind} ${where.padEnd(6)} ${fmtN(run.recordsPerSec)} rec/s, ` +
          `p50 ${fmtMs(run.p50Ms)} ms, p99 ${fmtMs(run.p99Ms)} ms; CPU bench ${run.benchCpuSeconds.toFixed(1)} s` +
          (run.nodeCpuSeconds === undefined ? '' : ` + node ${run.nodeCpuSeconds.toFixed(1)} s`) +
          ` in ${run.seconds.toFixed(1)} s`,
      );
      collectGarbage();
    }
  }

  const labels: Record<AppendKind, Record<Where, string>> = {
    batch: {
      local: `ref: appendBatch in-process ×${CONCURRENCY}, ${EVENTS_PER_BATCH} ev/batch`,
      remote: `appendBatch via client → node child ×${CONCURRENCY}`,
    },
    single: {
      local: `ref: append(bytes) in-process ×${CONCURRENCY}`,
      remote: `append(bytes) via client → node child ×${CONCURRENCY}`,
    },
  };
  const cpuPer = (rs: AppendRun[], f: (x: AppendRun) => number | undefined): string =>
    median(rs.map((x) => (1e6 * (f(x) ?? Number.NaN)) / x.records)).toFixed(1);
  const rows: Row[] = [];
  for (const kind of kinds) {
    const local = runs[`${kind}-local`]!;
    for (const where of ['local', 'remote'] as const) {
      const rs = runs[`${kind}-${where}`]!;
      const unit = kind === 'batch' ? `per batch of ${EVENTS_PER_BATCH}` : 'per record';
      rows.push({
        figure: '7',
        variant: labels[kind][where],
        recordsPerSec: median(rs.map((x) => x.recordsPerSec)),
        mbPerSec: median(rs.map((x) => x.mbPerSec)),
        ratio: median(rs.map((x, i) => x.recordsPerSec / local[i]!.recordsPerSec)),
        p50Ms: median(rs.map((x) => x.p50Ms)),
        p99Ms: median(rs.map((x) => x.p99Ms)),
        peakRssMiB: Math.max(...rs.map((x) => x.peakRssMiB)),
        extra:
          `p50/p99 ${unit}; ${(rs[0]!.records / median(rs.map((x) => x.blocks))).toFixed(0)} rec/block; CPU µs/rec ` +
          (where === 'local'
            ? cpuPer(rs, (x) => x.benchCpuSeconds)
            : `client ${cpuPer(rs, (x) => x.benchCpuSeconds)} + node ${cpuPer(rs, (x) => x.nodeCpuSeconds)}; ` +
              `node peak RSS ${Math.max(...rs.map((x) => x.nodePeakRssMiB ?? Number.NaN)).toFixed(0)} MiB`),
      });
    }
  }
  const batchRatio = rows.find((r) => r.variant === labels.batch.remote)?.ratio;
  const notes = [
    `Appends (figure 1's batch size and caller count): ${fmtN(batches.events.count)} access-log events per run in ` +
      `${fmtN(batches.count)} pre-signed batches of ${EVENTS_PER_BATCH} (figure 1's batched bytes for seed ${ctx.seed}, made by ` +
      `BatchStream), ${CONCURRENCY} callers each awaiting its own ` +
      `batch; ${fmtN(singleN)} single signed records (the same access logs as records, every author signature verified), ` +
      `${CONCURRENCY} callers. Each run: a fresh folder (same genesis and options either way: createLedger, durability sync), an ` +
      `untimed prefix of ${fmtN(prefixN.batch)} events / ${fmtN(prefixN.single)} records of other bytes through the same path, ` +
      "then the timed records; entry counts and sampled entries checked (the node's read back through verified inclusion " +
      'bundles). Ack latency = call to receipt. CPU µs/rec over the timed section: this process (all its threads) and the ' +
      'node child (/proc/<pid>/stat, all its threads).',
    `Genesis maxClockSkewMs ${Math.round(skewMs / DAY)} days: the node checks request and record times against its clock ` +
      "(Date.now) and the records are dated 2025 (figure 1's ledgers switch the check off with 0, which the node cannot run " +
      'with: its nonce window is twice the skew, and a window of 0 is refused at start).',
    ...(batchRatio === undefined
      ? []
      : [
          `Target: remote appendBatch ≥ 0.7× in-process — ${batchRatio.toFixed(3)}× (${batchRatio >= 0.7 ? 'met' : 'missed'}).`,
        ]),
  ];
  return {
    rows,
    notes,
    details: {
      batchEvents: batches.events.count,
      batches: batches.count,
      singleN,
      prefix: prefixN,
      concurrency: CONCURRENCY,
      eventsPerBatch: EVENTS_PER_BATCH,
      skewMs,
      appendWarmup: warmup,
      appendRuns: runs,
    },
  };
}

/** The queries on figure 5's city, loaded once into a node folder; rounds of in-process then node. */
async function queryPart(c: Common): Promise<Part> {
  const { ctx, log, dir } = c;
  const nQueries = ctx.quick ? QUICK_QUERIES : FULL_QUERIES;
  const queryWarmup = ctx.quick ? QUICK_QUERY_WARMUP : FULL_QUERY_WARMUP;
  const scale = ctx.quick ? scaledCity(QUICK_FRACTION) : FULL_CITY;
  const city = planCity(dir, scale);
  log(`  loading the city (${fmtN(scale.resources)} resources, ${fmtN(scale.grants)} grants)...`);
  const cityDir = await tempDir('remote-city');
  try {
    const loaded = await loadCity(city);
    await rename(loaded.path, join(cityDir, 'ledger'));
    await nodeFolder(cityDir, dir.sequencerKey);
    log(`  city loaded: ${fmtN(loaded.run.records)} records in ${loaded.run.seconds.toFixed(1)} s`);
    collectGarbage();
    const args = queryArgs(city, nQueries, ctx.seed);
    const runs: Array<{ local: QueryProcessRun; remote: QueryProcessRun }> = [];
    for (let r = 0; r < ctx.runs; r++) {
      const round = await queryRound(cityDir, args, nQueries, queryWarmup, c.verifierKey, c.as);
      runs.push(round);
      for (const key of QUERY_KEYS) {
        const l = round.local.runs[key];
        const m = round.remote.runs[key];
        log(
          `  run ${r + 1}/${ctx.runs} ${QUERY_LABELS[key].padEnd(32)} local ${fmtN(l.queriesPerSec)} q/s ` +
            `(p99 ${fmtMs(l.p99Ms)} ms), node ${fmtN(m.queriesPerSec)} q/s (p50 ${fmtMs(m.p50Ms)}, ` +
            `p99 ${fmtMs(m.p99Ms)} ms; CPU per query client ${((1000 * round.remote.benchCpuSeconds[key]) / nQueries).toFixed(2)} ms ` +
            `+ node ${((1000 * round.remote.nodeCpuSeconds![key]) / nQueries).toFixed(2)} ms)`,
        );
      }
    }
    const rows: Row[] = [];
    for (const key of QUERY_KEYS) {
      const local = runs.map((r) => r.local.runs[key]);
      const remote = runs.map((r) => r.remote.runs[key]);
      const cpuMs = (f: (r: (typeof runs)[number]) => number): string =>
        median(runs.map((r) => (1000 * f(r)) / nQueries)).toFixed(2);
      rows.push({
        figure: '7',
        variant: `ref: in-process ${QUERY_LABELS[key]}`,
        recordsPerSec: median(local.map((x) => x.queriesPerSec)),
        ratio: 1,
        p50Ms: median(local.map((x) => x.p50Ms)),
        p99Ms: median(local.map((x) => x.p99Ms)),
        extra: `avg ${local[0]!.avgItems.toFixed(1)} items; CPU ${cpuMs((r) => r.local.benchCpuSeconds[key])} ms/query`,
      });
      rows.push({
        figure: '7',
        variant: `client → node: ${QUERY_LABELS[key]}, verified`,
        recordsPerSec: median(remote.map((x) => x.queriesPerSec)),
        ratio: median(remote.map((x, i) => x.queriesPerSec / local[i]!.queriesPerSec)),
        p50Ms: median(remote.map((x) => x.p50Ms)),
        p99Ms: median(remote.map((x) => x.p99Ms)),
        extra:
          `avg ${remote[0]!.avgItems.toFixed(1)} items; CPU ms/query client ` +
          `${cpuMs((r) => r.remote.benchCpuSeconds[key])} + node ${cpuMs((r) => r.remote.nodeCpuSeconds![key])}`,
      });
    }
    const p99 = QUERY_KEYS.map((k) => median(runs.map((r) => r.remote.runs[k].p99Ms)));
    const notes = [
      `Queries: figure 5's ${ctx.quick ? `1/${Math.round(1 / QUICK_FRACTION)} ` : ''}city (${fmtN(scale.resources)} resources, ` +
        `${fmtN(scale.grants)} grants; ${fmtN(loaded.run.records)} records), loaded once through the domain API into one ` +
        `folder. Each round opens it in this process (openLedger, read-only), runs ${queryWarmup} warm-up queries of each kind ` +
        `and ${fmtN(nQueries)} timed ones, closes it; then starts the node on it and does the same through ` +
        'connect(url, { verifierKey, as: a department }): each query a signed POST (RFC 9421), its checkpoint and every ' +
        "item's inclusion proof verified before it returns. One query at a time, first page (limit 100), figure 5's " +
        `argument distributions; answers checked equal for the first ${CHECKED_ARGS} arguments. CPU ms/query: this ` +
        'process and the node child over the timed run.',
      `Target: the three remote queries' p99 < 20 ms — ${p99.map((v) => `${v.toFixed(2)} ms`).join(', ')} ` +
        `(${p99.every((v) => v < 20) ? 'met' : 'missed'}).`,
    ];
    return {
      rows,
      notes,
      details: {
        cityRecords: loaded.run.records,
        cityLoadSeconds: loaded.run.seconds,
        queries: nQueries,
        queryWarmup,
        queryRuns: runs,
      },
    };
  } finally {
    await removeDir(cityDir);
  }
}

export async function figureRemote(ctx: BenchContext): Promise<FigureResult> {
  const figureStart = performance.now();
  const log = (line: string): void =>
    ctx.log(`${line} [${((performance.now() - figureStart) / 1000).toFixed(1)} s]`);
  // --variants=batch,single,queries runs a part of the figure (for profiling one path).
  for (const v of ctx.variants)
    if (!(PARTS as readonly string[]).includes(v))
      throw new Error(`--variants: figure 7 has no part ${v} (parts: ${PARTS.join(', ')})`);
  const parts = PARTS.filter((v) => ctx.variants.length === 0 || ctx.variants.includes(v));
  const nodeFlags = NodeProcess.flags();
  const dir = makeDirectory(ctx.seed);
  const sequencer = loadSigner(dir.sequencerKey);
  const common: Common = {
    ctx,
    log,
    dir,
    verifierKey: formatVerifierKey(sha256Node, sequencer.name, sequencer.publicKey),
    as: dir.departments[0]!.member,
  };
  log(`figure 7: node child flags: ${nodeFlags.join(' ') || 'none'}`);
  const kinds = (['batch', 'single'] as const).filter((k) => parts.includes(k));
  const appends = kinds.length === 0 ? undefined : await appendPart(common, kinds);
  const queries = parts.includes('queries') ? await queryPart(common) : undefined;
  return {
    figure: '7',
    title: 'The node over loopback (client → `dirchain node` child vs in-process, same bytes)',
    rows: [...(appends?.rows ?? []), ...(queries?.rows ?? [])],
    notes: [
      `The node: \`node ${nodeFlags.join(' ')} dist-bench/cli.js node <dir> --json\` (the CLI bundled from the same ` +
        'source), a child process on 127.0.0.1 sharing the 2 cores with this process (the client). Round-robin, ' +
        `${ctx.runs} rounds after a warm-up; × ref = median over rounds of (through the node ÷ in-process, same round).`,
      ...(appends?.notes ?? []),
      ...(queries?.notes ?? []),
    ],
    details: { parts, nodeFlags, ...appends?.details, ...queries?.details },
  };
}
