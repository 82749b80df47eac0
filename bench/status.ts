/**
 * Figure 8: the verifiable status map (issue 33).
 *
 * - Status-changing records (resources, scenarios, need lists, grants, answers, revocations)
 *   through `ledger.directory.*` (in-process `submit`, each signed by its department), with the
 *   map's update time as its share of the phase's wall time; the reference is the access-log
 *   phase of the same load (the same path, records that change no status).
 * - Access-log `appendBatch` against figure 1's reference A (raw LevelDB on the same event
 *   bytes) in the same run, and the map work it caused (none: access logs touch no key).
 * - A map of 10M keys (quick: 100k) in LevelDB, in the ledger's own table layout
 *   (storage/status-map-table.ts), built block by block with `updateMap`: binary proof sizes
 *   (median, p99) for keys in it and not, the whole JSON status bundle of a grant, peak RSS,
 *   bytes on disk per status change, proofs generated per second (current version and a past
 *   one) and verified per second (node's SHA-256 and pure JS).
 * - `rebuildState` of a ledger of 1M resources (quick: 20k): its time and the map's share.
 */
import { ClassicLevel } from 'classic-level';
import { statusMapHasher, statusMapWork } from '../src/chain/map-state.js';
import { rebuildState } from '../src/chain/rebuild.js';
import { loadSigner } from '../src/crypto/keys.js';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { formatVerifierKey } from '../src/crypto/note.js';
import { sha256Noble } from '../src/crypto/sha256.js';
import type { Plain } from '../src/encoding/msgpack.js';
import { type Ledger, openLedger } from '../src/index.js';
import { signAs } from '../src/sequencer/sign-batch.js';
import {
  checkMapProof,
  encodeMapProof,
  type MapNode,
  type MapProof,
  mapHasher,
  position,
  proveMap,
  updateMap,
} from '../src/state/map.js';
import { encodeStatus, type StatusValue } from '../src/state/status.js';
import { proveStatusItems, statusBundleToJSON } from '../src/state/status-proof.js';
import {
  currentMapReader,
  MAP_HISTORY_TABLE,
  mapNodeAt,
  mapNodeWrites,
} from '../src/storage/status-map-table.js';
import { checkStatus } from '../src/verify.js';
import { type Prepared, runVariant } from './append.js';
import { loadCity, QUICK_FRACTION } from './directory.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  median,
  percentileSorted,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import {
  createCityLedger,
  FULL_CITY,
  generateAccessLogs,
  makeDirectory,
  planCity,
  scaledCity,
} from './workload.js';

type DB = ClassicLevel<Uint8Array, Uint8Array>;

const FULL_KEYS = 10_000_000;
const QUICK_KEYS = 100_000;
/** The past version proofs are made at: this many blocks of changes before the last. */
const PAST_BLOCKS = 10;
/** Synthetic keys: 57 members, 31,000 resources, then grants. */
const FIRST_GRANT = 57 + 31_000;
/** Status changes per block, and blocks, for the bytes-on-disk-per-change measure. */
const CHANGE_BLOCK = 1_000;
const FULL_CHANGE_BLOCKS = 100;
const QUICK_CHANGE_BLOCKS = 20;
const FULL_PROOFS = 10_000;
const QUICK_PROOFS = 1_000;
const FULL_REBUILD_KEYS = 1_000_000;
const QUICK_REBUILD_KEYS = 20_000;
const FULL_BATCH_N = 200_000;
const QUICK_BATCH_N = 5_000;
/** The directory's phases that change statuses; the access-log phase is their reference. */
const STATUS_PHASES = new Set(['resources', 'scenarios', 'requests', 'grants', 'answers', 'revocations']);
const MiB = 1024 * 1024;

const fmt = (v: number, d = 0): string =>
  v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// ---- part A: status-changing records through submit ------------------------------------------

interface LoadShare {
  readonly statusRecords: number;
  readonly statusSeconds: number;
  readonly statusPerSec: number;
  readonly accessPerSec: number;
  readonly mapMs: number;
  readonly mapKeys: number;
  readonly mapBlocks: number;
  readonly accessMapKeys: number;
  readonly accessMapMs: number;
}

async function loadShares(ctx: BenchContext): Promise<{ runs: LoadShare[]; keptPath: string }> {
  const dir = makeDirectory(ctx.seed);
  const city = planCity(dir, ctx.quick ? scaledCity(QUICK_FRACTION) : FULL_CITY);
  const warm = await loadCity(planCity(dir, scaledCity(ctx.quick ? 0.01 : 0.1)));
  await removeDir(warm.path);
  const runs: LoadShare[] = [];
  let keptPath = '';
  for (let r = 0; r < ctx.runs; r++) {
    collectGarbage();
    const { run, path } = await loadCity(city);
    if (r === ctx.runs - 1) keptPath = path;
    else await removeDir(path);
    const status = run.phases.filter((p) => STATUS_PHASES.has(p.name));
    const access = run.phases.find((p) => p.name === 'access logs')!;
    const statusRecords = status.reduce((s, p) => s + p.records, 0);
    const statusSeconds = status.reduce((s, p) => s + p.seconds, 0);
    runs.push({
      statusRecords,
      statusSeconds,
      statusPerSec: statusRecords / statusSeconds,
      accessPerSec: access.recordsPerSec,
      mapMs: status.reduce((s, p) => s + p.mapMs, 0),
      mapKeys: status.reduce((s, p) => s + p.mapKeys, 0),
      mapBlocks: status.reduce((s, p) => s + p.mapBlocks, 0),
      accessMapKeys: access.mapKeys,
      accessMapMs: access.mapMs,
    });
    const last = runs.at(-1)!;
    ctx.log(
      `  load ${r + 1}/${ctx.runs}: ${fmt(statusRecords)} status-changing records at ${fmt(last.statusPerSec)}/s ` +
        `(map ${fmt(last.mapMs)} ms = ${fmt((100 * last.mapMs) / (statusSeconds * 1000), 1)} %, ` +
        `${fmt(last.mapKeys)} keys in ${fmt(last.mapBlocks)} blocks); access logs ${fmt(last.accessPerSec)}/s ` +
        `(map ${last.accessMapKeys} keys, ${fmt(last.accessMapMs, 1)} ms)`,
    );
  }
  return { runs, keptPath };
}

// ---- part B: access-log appendBatch against raw LevelDB ---------------------------------------

interface BatchRound {
  readonly batchPerSec: number;
  readonly rawPerSec: number;
  /** Map work during the run: the run's new ledger's genesis block only, when access logs cost nothing. */
  readonly mapBlocks: number;
  readonly mapKeys: number;
  readonly mapMs: number;
}

async function batchRounds(ctx: BenchContext): Promise<BatchRound[]> {
  const n = ctx.quick ? QUICK_BATCH_N : FULL_BATCH_N;
  const dir = makeDirectory(ctx.seed);
  const p: Prepared = { dir, logs: generateAccessLogs(dir, n) };
  await runVariant(p, Math.min(n, ctx.quick ? 1_000 : 50_000), 'A-ev');
  await runVariant(p, Math.min(n, ctx.quick ? 1_000 : 50_000), 'batch');
  const rounds: BatchRound[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    collectGarbage();
    const raw = await runVariant(p, n, 'A-ev');
    collectGarbage();
    const map0 = { ...statusMapWork };
    const batch = await runVariant(p, n, 'batch');
    rounds.push({
      batchPerSec: batch.recordsPerSec,
      rawPerSec: raw.recordsPerSec,
      mapBlocks: statusMapWork.blocks - map0.blocks,
      mapKeys: statusMapWork.keys - map0.keys,
      mapMs: statusMapWork.ms - map0.ms,
    });
    ctx.log(
      `  appendBatch ${r + 1}/${ctx.runs}: ${fmt(batch.recordsPerSec)} events/s, raw A ${fmt(raw.recordsPerSec)}/s ` +
        `(${(batch.recordsPerSec / raw.recordsPerSec).toFixed(3)}×); map ${statusMapWork.blocks - map0.blocks} block(s), ${statusMapWork.keys - map0.keys} keys, ` +
        `${fmt(statusMapWork.ms - map0.ms, 2)} ms`,
    );
  }
  return rounds;
}

// ---- part C: a map of 10M keys ------------------------------------------------------------------

/** A stand-in for the digest of entity `i`'s encoding (32 bytes, as the real one). */
const digestOf = (i: number, version: number): Uint8Array =>
  sha256Node(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24, version & 0xff));

/** The status value of synthetic key `i`: grants, with the resources and members they name. */
function statusValueOf(i: number, version = 0): StatusValue {
  const entity = digestOf(i, version);
  if (i < 57)
    return {
      type: 'member',
      id: `dept-${String(i).padStart(2, '0')}`,
      status: 'active',
      index: i + 1,
      entity,
    };
  if (i < 57 + 31_000) {
    const r = i - 57;
    return {
      type: 'resource',
      id: `res-${String(r).padStart(5, '0')}`,
      status: 'active',
      version: 1 + version,
      index: 100 + r,
      owner: `dept-${String(r % 57).padStart(2, '0')}`,
      entity,
    };
  }
  return {
    type: 'grant',
    id: `grant-${String(i).padStart(8, '0')}`,
    status: version % 2 === 0 ? 'active' : 'revoked',
    index: 40_000 + i + version,
    provider: `dept-${String(i % 57).padStart(2, '0')}`,
    consumer: `dept-${String((i * 7) % 57).padStart(2, '0')}`,
    resource: `res-${String(i % 31_000).padStart(5, '0')}`,
    validFrom: 1_735_689_600_000,
    validTo: 1_767_225_600_000,
    revokedAt: version % 2 === 0 ? null : 1_750_000_000_000 + version,
    entity,
  };
}

function updateOf(i: number, version = 0): { key: Uint8Array; value: Uint8Array; data: Uint8Array } {
  const v = statusValueOf(i, version);
  const data = encodeStatus(v);
  return { key: statusMapHasher.key(v.type, v.id), value: statusMapHasher.value(data), data };
}

/** Sets `updates` as block `height`: the ledger's own layout and puts ('V' now, 'W' history), one batch; returns the history's bytes. */
async function writeBlock(
  db: DB,
  read: (pos: Uint8Array) => MapNode | undefined,
  updates: ReturnType<typeof updateOf>[],
  height: number,
): Promise<number> {
  const { writes } = updateMap(statusMapHasher, read, updates);
  const batch = db.batch();
  let history = 0;
  for (const [k, v] of mapNodeWrites(writes, height)) {
    batch.put(k, v);
    if (k[0] === MAP_HISTORY_TABLE) history += k.length + v.length;
  }
  await batch.write();
  return history;
}

/**
 * Writes the map of keys 0..n-1 as one block (height 0), straight from the
 * definition: the keys sorted (bucketed by their first two bytes, then each
 * bucket sorted), the tree built bottom-up over sorted ranges, a subtree of
 * the top 8 levels at a time so each LevelDB batch stays bounded. The map is
 * canonical, so this is the map `updateMap` makes from the same keys, only
 * faster to make.
 */
async function bulkBuild(db: DB, n: number, log: (line: string) => void): Promise<void> {
  const h = statusMapHasher;
  const keys = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) keys.set(updateOf(i).key, i * 32);
  const count = new Uint32Array(65_537);
  for (let i = 0; i < n; i++) count[((keys[i * 32]! << 8) | keys[i * 32 + 1]!) + 1]!++;
  for (let b = 1; b < count.length; b++) count[b]! += count[b - 1]!;
  const order = new Uint32Array(n);
  const fill = count.slice(0, 65_536);
  for (let i = 0; i < n; i++) order[fill[(keys[i * 32]! << 8) | keys[i * 32 + 1]!]!++] = i;
  const cmp = (a: number, b: number): number => {
    for (let j = 2; j < 32; j++) {
      const d = keys[a * 32 + j]! - keys[b * 32 + j]!;
      if (d !== 0) return d;
    }
    return 0;
  };
  for (let b = 0; b < 65_536; b++) {
    const bucket = order.subarray(count[b]!, count[b + 1]!);
    if (bucket.length > 1) bucket.sort(cmp);
  }
  const keyAt = (k: number): Uint8Array => keys.subarray(order[k]! * 32, order[k]! * 32 + 32);
  const bit = (k: number, d: number): number => (keys[order[k]! * 32 + (d >> 3)]! >> (7 - (d & 7))) & 1;
  let pending: Array<[Uint8Array, MapNode]> = [];
  // The hash of the subtree of sorted keys [lo, hi) sharing their first `depth` bits; its nodes go to `pending`.
  const build = (lo: number, hi: number, depth: number): Uint8Array => {
    if (hi - lo === 0) return h.empty;
    const key = keyAt(lo);
    if (hi - lo === 1) {
      const u = updateOf(order[lo]!);
      pending.push([position(key, depth), { kind: 'leaf', key: u.key, value: u.value, data: u.data }]);
      return h.leaf(u.key, u.value);
    }
    let mid = lo;
    while (mid < hi && bit(mid, depth) === 0) mid++;
    const hash = h.inner(build(lo, mid, depth + 1), build(mid, hi, depth + 1));
    pending.push([position(key, depth), { kind: 'inner', hash }]);
    return hash;
  };
  const flush = async (): Promise<void> => {
    const batch = db.batch();
    for (const [k, v] of mapNodeWrites(pending, 0)) batch.put(k, v);
    await batch.write();
    pending = [];
  };
  // The top 8 levels by their 256 subtrees (a bucket boundary is a byte boundary).
  const TOP = 8;
  const roots: Uint8Array[] = [];
  for (let t = 0; t < 256; t++) {
    const lo = count[t << 8]!;
    const hi = count[(t + 1) << 8]!;
    // A subtree of one key or none is placed above, where its leaf or empty branch really sits.
    roots.push(hi - lo > 1 ? build(lo, hi, TOP) : h.empty);
    await flush();
    if (t % 32 === 31) log(`  map: ${fmt(hi)} of ${fmt(n)} keys written`);
  }
  // Above them: the same recursion over subtree indexes, where a subtree with one key is that key's leaf, moved up.
  const above = (from: number, to: number, depth: number): Uint8Array => {
    const lo = count[from << 8]!;
    const hi = count[to << 8]!;
    if (hi - lo <= 1) return build(lo, hi, depth);
    if (depth === TOP) return roots[from]!;
    const half = (from + to) >> 1;
    const hash = h.inner(above(from, half, depth + 1), above(half, to, depth + 1));
    pending.push([position(keyAt(lo), depth), { kind: 'inner', hash }]);
    return hash;
  };
  above(0, 256, 0);
  await flush();
}

/** A deterministic sample of `count` integers in [0, n). */
function sample(count: number, n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push((x >>> 0) % n);
  }
  return out;
}

interface BigMap {
  readonly keys: number;
  readonly buildSeconds: number;
  /** The bench's bulk builder (all keys sorted in memory): not what a ledger holds. */
  readonly buildPeakRssMiB: number;
  /** While changing, proving and verifying with the map on disk: what a ledger's process holds. */
  readonly peakRssMiB: number;
  readonly presentBytes: { median: number; p99: number };
  readonly absentBytes: { median: number; p99: number };
  readonly jsonBundleBytes: number;
  readonly logSizeOfBundle: number;
  /** The history table's bytes per status change (kept for good). */
  readonly bytesPerChange: number;
  /** The folder's growth per status change, before compaction reclaims overwritten current nodes. */
  readonly grownPerChange: number;
  readonly diskBytes: number;
  readonly provePerSec: number[];
  readonly provePastPerSec: number[];
  readonly verifyNodePerSec: number[];
  readonly verifyJsPerSec: number[];
}

async function bigMap(ctx: BenchContext, bundleFrom: Ledger): Promise<BigMap> {
  const n = ctx.quick ? QUICK_KEYS : FULL_KEYS;
  const path = await tempDir('status-map');
  const db: DB = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
  const rss = new RssSampler();
  rss.start();
  try {
    await db.open();
    const read = currentMapReader((k) => db.getSync(k));
    const t0 = performance.now();
    await bulkBuild(db, n, ctx.log);
    const buildSeconds = (performance.now() - t0) / 1000;
    const buildPeakRssMiB = rss.stop();
    if (n <= QUICK_KEYS) {
      // The bulk builder makes the map updateMap makes (checked where it is cheap to).
      const nodes = new Map<string, MapNode>();
      const updates = Array.from({ length: n }, (_, i) => updateOf(i));
      const { root } = updateMap(
        statusMapHasher,
        (pos) => nodes.get(Buffer.from(pos).toString('hex')),
        updates,
      );
      if (!Buffer.from(root).equals(Buffer.from(rootOf(read))))
        throw new Error('the bulk-built map is not the map updateMap makes');
    }
    collectGarbage();
    rss.start();

    // Bytes on disk per status change: what the history keeps for good (the current table's
    // old values are overwritten), and the folder's growth before LevelDB compacts them away.
    const before = await dirBytes(path);
    let history = 0;
    const blocks = ctx.quick ? QUICK_CHANGE_BLOCKS : FULL_CHANGE_BLOCKS;
    const changed = sample(blocks * CHANGE_BLOCK, n - FIRST_GRANT, ctx.seed ^ 0x5bd1e995);
    let height = 1;
    for (let b = 0; b < blocks; b++, height++) {
      const updates = changed
        .slice(b * CHANGE_BLOCK, (b + 1) * CHANGE_BLOCK)
        .map((i) => updateOf(FIRST_GRANT + i, 1 + b));
      history += await writeBlock(db, read, dedupe(updates), height);
    }
    const after = await dirBytes(path);
    const pastHeight = Math.max(0, height - 1 - PAST_BLOCKS);

    // Proofs at the current version: sizes in the binary form, then the rate.
    const proofs = ctx.quick ? QUICK_PROOFS : FULL_PROOFS;
    const present = sample(proofs, n, ctx.seed);
    const sizes = (list: MapProof[], keys: Uint8Array[]) => {
      const s = Float64Array.from(list, (p, i) => encodeMapProof(statusMapHasher, keys[i]!, p).length).sort();
      return { median: percentileSorted(s, 50), p99: percentileSorted(s, 99) };
    };
    const presentKeys = present.map((i) => updateOf(i).key);
    const absentKeys = present.map((i) => statusMapHasher.key('grant', `absent-${i}`));
    const presentProofs: MapProof[] = [];
    for (const k of presentKeys) presentProofs.push(await proveMap(statusMapHasher, read, k));
    const absentProofs: MapProof[] = [];
    for (const k of absentKeys) absentProofs.push(await proveMap(statusMapHasher, read, k));
    const root = rootOf(read);
    const js = mapHasher(sha256Noble);
    const provePerSec: number[] = [];
    const provePastPerSec: number[] = [];
    const verifyNodePerSec: number[] = [];
    const verifyJsPerSec: number[] = [];
    const scan = levelScan(db);
    const pastCount = Math.max(200, proofs / 10);
    for (let r = 0; r <= ctx.runs; r++) {
      let t = performance.now();
      for (const k of presentKeys) await proveMap(statusMapHasher, read, k);
      const prove = presentKeys.length / ((performance.now() - t) / 1000);
      // A past version: the map as it was PAST_BLOCKS blocks of changes ago, read through the history table.
      t = performance.now();
      for (const k of presentKeys.slice(0, pastCount))
        await proveMap(statusMapHasher, (pos) => mapNodeAt(scan, pos, pastHeight), k);
      const past = pastCount / ((performance.now() - t) / 1000);
      t = performance.now();
      for (let i = 0; i < presentKeys.length; i++)
        if (checkMapProof(statusMapHasher, root, presentKeys[i]!, presentProofs[i]!) === undefined)
          throw new Error('a proof of the big map does not verify');
      const verifyNode = presentKeys.length / ((performance.now() - t) / 1000);
      const jsCount = Math.max(200, presentKeys.length / 10);
      t = performance.now();
      for (let i = 0; i < jsCount; i++)
        if (checkMapProof(js, root, presentKeys[i]!, presentProofs[i]!) === undefined)
          throw new Error('a proof of the big map does not verify in pure JS');
      const verifyJs = jsCount / ((performance.now() - t) / 1000);
      if (r > 0) {
        provePerSec.push(prove);
        provePastPerSec.push(past);
        verifyNodePerSec.push(verifyNode);
        verifyJsPerSec.push(verifyJs);
      }
    }
    for (let i = 0; i < absentKeys.length; i++)
      if (checkMapProof(statusMapHasher, root, absentKeys[i]!, absentProofs[i]!)?.present !== false)
        throw new Error('an absence proof of the big map does not verify');

    // A grant's whole JSON bundle: its three map proofs from this map, the checkpoint and the
    // block entry's inclusion proof from a real ledger (the figure's city ledger).
    const real = await bundleFrom.proveStatus('member', 'data-bureau.admin');
    const items = await proveStatusItems(statusMapHasher, read, 'grant', statusValueOf(57 + 31_000 + 1).id);
    const jsonBundleBytes = Buffer.byteLength(JSON.stringify(statusBundleToJSON({ ...real, items })));

    return {
      keys: n,
      buildSeconds,
      buildPeakRssMiB,
      peakRssMiB: rss.stop(),
      presentBytes: sizes(presentProofs, presentKeys),
      absentBytes: sizes(absentProofs, absentKeys),
      jsonBundleBytes,
      logSizeOfBundle: real.size,
      bytesPerChange: history / (blocks * CHANGE_BLOCK),
      grownPerChange: (after - before) / (blocks * CHANGE_BLOCK),
      diskBytes: after,
      provePerSec,
      provePastPerSec,
      verifyNodePerSec,
      verifyJsPerSec,
    };
  } finally {
    rss.stop();
    await db.close();
    await removeDir(path);
  }
}

function rootOf(read: (pos: Uint8Array) => MapNode | undefined): Uint8Array {
  const n = read(Uint8Array.of(0));
  if (n === undefined) return statusMapHasher.empty;
  return n.kind === 'leaf' ? statusMapHasher.leaf(n.key, n.value) : n.hash;
}

/** The last update of each key in a block (a block sets each entity once). */
function dedupe<T extends { key: Uint8Array }>(updates: T[]): T[] {
  const byKey = new Map<string, T>();
  for (const u of updates) byKey.set(Buffer.from(u.key).toString('hex'), u);
  return [...byKey.values()];
}

/** LedgerStore's prefix scan over a bare classic-level (what mapNodeAt reads the history through). */
function levelScan(db: DB) {
  return {
    getRaw: (key: Uint8Array) => db.getSync(key),
    async *scan(
      prefix: Uint8Array,
      options: { after?: Uint8Array; limit?: number; reverse?: boolean },
    ): AsyncGenerator<[Uint8Array, Uint8Array]> {
      const end = Uint8Array.from(prefix);
      end[end.length - 1]!++;
      const range = options.reverse
        ? { gte: prefix, lt: options.after ?? end }
        : { gt: options.after ?? prefix, lt: end };
      for await (const [k, v] of db.iterator({
        ...range,
        reverse: options.reverse ?? false,
        limit: options.limit ?? -1,
      }))
        yield [k, v];
    },
  };
}

// ---- whole status bundles from a ledger -------------------------------------------------------

interface BundleRun {
  readonly provePerSec: number;
  readonly checkPerSec: number;
  readonly bytes: number;
}

/** `ledger.proveStatus` of grants at the head (3 map proofs and an inclusion proof each), and `checkStatus` (pure JS) of them. */
async function bundleRuns(
  ctx: BenchContext,
  ledger: Ledger,
  grants: readonly string[],
): Promise<BundleRun[]> {
  const sequencer = loadSigner(makeDirectory(ctx.seed).sequencerKey);
  const key = formatVerifierKey(sha256Node, sequencer.name, sequencer.publicKey);
  const ids = sample(ctx.quick ? 200 : 2_000, grants.length, ctx.seed).map((i) => grants[i]!);
  const runs: BundleRun[] = [];
  for (let r = 0; r <= ctx.runs; r++) {
    let t = performance.now();
    const bundles = [];
    for (const id of ids) bundles.push(statusBundleToJSON(await ledger.proveStatus('grant', id)));
    const provePerSec = ids.length / ((performance.now() - t) / 1000);
    const texts = bundles.map((b) => JSON.stringify(b));
    t = performance.now();
    for (const text of texts) checkStatus(JSON.parse(text), [key]);
    const checkPerSec = texts.length / ((performance.now() - t) / 1000);
    const sizes = Float64Array.from(texts, (x) => x.length).sort();
    if (r > 0) runs.push({ provePerSec, checkPerSec, bytes: percentileSorted(sizes, 50) });
  }
  return runs;
}

// ---- part D: rebuilding the state (and the map) from the records -------------------------------

interface RebuildRun {
  readonly keys: number;
  readonly seconds: number;
  readonly mapMs: number;
}

async function rebuildRuns(ctx: BenchContext): Promise<{ runs: RebuildRun[]; buildSeconds: number }> {
  const keys = ctx.quick ? QUICK_REBUILD_KEYS : FULL_REBUILD_KEYS;
  const dir = makeDirectory(ctx.seed);
  const city = planCity(dir, scaledCity(0.01));
  const path = await tempDir('status-rebuild');
  try {
    const t0 = performance.now();
    const ledger = await createCityLedger(path, city);
    try {
      const chunk = 2_000;
      for (let from = 0; from < keys; from += chunk) {
        const entries: Uint8Array[] = [];
        for (let i = from; i < Math.min(keys, from + chunk); i++) {
          const owner = i % dir.departments.length;
          const spec = city.resources[i % city.resources.length]!;
          const body = {
            ...spec,
            id: `res-r${i}`,
            owner: dir.departments[owner]!.id,
            fields: spec.fields.slice(0, 3),
          };
          entries.push(
            signAs(
              dir.origin,
              city.now,
              dir.departments[owner]!.member,
              'resource.register',
              body as unknown as Plain,
            ).bytes,
          );
        }
        const receipts = await ledger.appendMany(entries);
        const refused = receipts.find((r) => r instanceof Error);
        if (refused !== undefined) throw refused;
        if (from % 100_000 === 0 && from > 0)
          ctx.log(
            `  rebuild ledger: ${fmt(from)} resources, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
          );
      }
    } finally {
      await ledger.close();
    }
    const buildSeconds = (performance.now() - t0) / 1000;
    const runs: RebuildRun[] = [];
    // A full-size rebuild takes minutes: its first run is measured too (no warm-up run).
    for (let r = ctx.quick ? 0 : 1; r <= ctx.runs; r++) {
      collectGarbage();
      const map0 = statusMapWork.ms;
      const t = performance.now();
      const report = await rebuildState(path);
      const seconds = (performance.now() - t) / 1000;
      if (r > 0) runs.push({ keys: report.records, seconds, mapMs: statusMapWork.ms - map0 });
      ctx.log(
        `  rebuild ${r}/${ctx.runs}: ${fmt(report.records)} records in ${seconds.toFixed(1)} s (map ${fmt(statusMapWork.ms - map0)} ms)`,
      );
    }
    // The rebuilt folder still opens and proves (what a rebuild is for).
    const reopened = await openLedger(path);
    try {
      await reopened.proveStatus('resource', `res-r${keys - 1}`);
    } finally {
      await reopened.close();
    }
    return { runs, buildSeconds };
  } finally {
    await removeDir(path);
  }
}

// ---- the figure ---------------------------------------------------------------------------------

/** Figure 8's parts, in run order (`--variants` picks some). */
const PARTS = ['load', 'batch', 'map', 'rebuild'] as const;

export async function figureStatus(ctx: BenchContext): Promise<FigureResult> {
  for (const v of ctx.variants)
    if (!(PARTS as readonly string[]).includes(v))
      throw new Error(`--variants: figure 8 has no part ${v} (parts: ${PARTS.join(', ')})`);
  const run = (part: (typeof PARTS)[number]) => ctx.variants.length === 0 || ctx.variants.includes(part);
  let load: { runs: LoadShare[]; keptPath: string } | undefined;
  if (run('load') || run('map')) {
    ctx.log('figure 8: status-changing records through submit (city load)...');
    // The map part needs a city ledger for its whole bundles: one load when the load part is not run.
    load = await loadShares(run('load') ? ctx : { ...ctx, runs: 1 });
  }
  let batches: BatchRound[] = [];
  if (run('batch')) {
    ctx.log('figure 8: access-log appendBatch against raw LevelDB...');
    batches = await batchRounds(ctx);
  }
  let big: BigMap | undefined;
  let bundles: BundleRun[] = [];
  if (run('map')) await mapPart();
  else if (load !== undefined) await removeDir(load.keptPath);
  let rebuild: { runs: RebuildRun[]; buildSeconds: number } | undefined;
  if (run('rebuild')) {
    ctx.log(
      `figure 8: rebuilding ${fmt(ctx.quick ? QUICK_REBUILD_KEYS : FULL_REBUILD_KEYS)} resources from the records...`,
    );
    rebuild = await rebuildRuns(ctx);
  }
  return figureResult(ctx, run('load') ? load : undefined, batches, big, bundles, rebuild);

  async function mapPart(): Promise<void> {
    ctx.log(`figure 8: a status map of ${fmt(ctx.quick ? QUICK_KEYS : FULL_KEYS)} keys...`);
    const cityLedger = await openLedger(load!.keptPath);
    try {
      const city = planCity(makeDirectory(ctx.seed), ctx.quick ? scaledCity(QUICK_FRACTION) : FULL_CITY);
      bundles = await bundleRuns(
        ctx,
        cityLedger,
        city.grants.map((g) => g.input.id),
      );
      ctx.log(
        `  status bundles: ${fmt(median(bundles.map((b) => b.provePerSec)))} proved/s, ${fmt(median(bundles.map((b) => b.checkPerSec)))} checked/s (pure JS)`,
      );
      big = await bigMap(ctx, cityLedger);
      // Logged as soon as measured: a later part that fails does not take these with it.
      ctx.log(
        `  big map: ${JSON.stringify({ ...big, provePerSec: median(big.provePerSec), provePastPerSec: median(big.provePastPerSec), verifyNodePerSec: median(big.verifyNodePerSec), verifyJsPerSec: median(big.verifyJsPerSec) })}`,
      );
    } finally {
      await cityLedger.close();
      await removeDir(load!.keptPath);
    }
  }
}

function figureResult(
  ctx: BenchContext,
  load: { runs: LoadShare[] } | undefined,
  batches: BatchRound[],
  big: BigMap | undefined,
  bundles: BundleRun[],
  rebuild: { runs: RebuildRun[]; buildSeconds: number } | undefined,
): FigureResult {
  const m = (xs: readonly number[]) => median(xs);
  const rows: Row[] = [];
  if (load !== undefined) {
    const share = m(load.runs.map((r) => r.mapMs / (r.statusSeconds * 1000)));
    rows.push(
      {
        figure: '8',
        variant: 'status-changing records via directory.* (submit)',
        recordsPerSec: m(load.runs.map((r) => r.statusPerSec)),
        ratio: m(load.runs.map((r) => r.statusPerSec / r.accessPerSec)),
        extra: `map ${(100 * share).toFixed(1)} % of the time; ${fmt(m(load.runs.map((r) => r.mapKeys / Math.max(1, r.mapBlocks))), 1)} keys/block`,
      },
      {
        figure: '8',
        variant: 'ref: access-log records via directory.logAccess (same load)',
        recordsPerSec: m(load.runs.map((r) => r.accessPerSec)),
        ratio: 1,
        extra: `map ${Math.max(...load.runs.map((r) => r.accessMapKeys))} keys, ${fmt(Math.max(...load.runs.map((r) => r.accessMapMs)), 1)} ms`,
      },
    );
  }
  if (batches.length > 0)
    rows.push(
      {
        figure: '8',
        variant: 'access-log appendBatch ×64 (64 events/batch)',
        recordsPerSec: m(batches.map((b) => b.batchPerSec)),
        ratio: m(batches.map((b) => b.batchPerSec / b.rawPerSec)),
        extra: `map: ${Math.max(...batches.map((b) => b.mapBlocks))} block(s) changed it, ${Math.max(...batches.map((b) => b.mapKeys))} keys (genesis), ${fmt(Math.max(...batches.map((b) => b.mapMs)), 2)} ms in all`,
      },
      {
        figure: '8',
        variant: 'ref A: raw LevelDB on the event bytes',
        recordsPerSec: m(batches.map((b) => b.rawPerSec)),
        ratio: 1,
      },
    );
  if (big !== undefined)
    rows.push(
      {
        figure: '8',
        variant: `map of ${fmt(big.keys)} keys: proofs generated (current version)`,
        recordsPerSec: m(big.provePerSec),
        peakRssMiB: big.peakRssMiB,
        extra: `binary proof ${big.presentBytes.median} B median, ${big.presentBytes.p99} B p99 (absent: ${big.absentBytes.median} / ${big.absentBytes.p99} B); grant JSON bundle ${fmt(big.jsonBundleBytes)} B at log size ${fmt(big.logSizeOfBundle)}`,
      },
      {
        figure: '8',
        variant: 'proofs generated (a past version, history table)',
        recordsPerSec: m(big.provePastPerSec),
        ratio: m(big.provePastPerSec) / m(big.provePerSec),
      },
      {
        figure: '8',
        variant: 'proofs verified (node SHA-256)',
        recordsPerSec: m(big.verifyNodePerSec),
      },
      {
        figure: '8',
        variant: 'proofs verified (pure JS, dirchain/verify)',
        recordsPerSec: m(big.verifyJsPerSec),
        ratio: m(big.verifyJsPerSec) / m(big.verifyNodePerSec),
      },
      {
        figure: '8',
        variant: 'grant status bundles: ledger.proveStatus at the head (city)',
        recordsPerSec: m(bundles.map((b) => b.provePerSec)),
        extra: `JSON ${fmt(m(bundles.map((b) => b.bytes)))} B median (3 map proofs, inclusion at the head)`,
      },
      {
        figure: '8',
        variant: 'grant status bundles: checkStatus (pure JS, dirchain/verify)',
        recordsPerSec: m(bundles.map((b) => b.checkPerSec)),
        ratio: m(bundles.map((b) => b.checkPerSec / b.provePerSec)),
      },
      {
        figure: '8',
        variant: `map of ${fmt(big.keys)} keys: bulk build, then changes`,
        recordsPerSec: big.keys / big.buildSeconds,
        diskBytesPerRecord: big.bytesPerChange,
        extra: `built in ${big.buildSeconds.toFixed(0)} s (builder peak RSS ${fmt(big.buildPeakRssMiB)} MiB); disk ${fmt(big.diskBytes / MiB)} MiB; per status change (blocks of ${CHANGE_BLOCK}): history ${fmt(big.bytesPerChange)} B (bytes column), folder growth before compaction ${fmt(big.grownPerChange)} B`,
      },
    );
  if (rebuild !== undefined)
    rows.push({
      figure: '8',
      variant: `rebuildState: ${fmt(rebuild.runs[0]!.keys)} records (resources)`,
      recordsPerSec: m(rebuild.runs.map((r) => r.keys / r.seconds)),
      extra: `${m(rebuild.runs.map((r) => r.seconds)).toFixed(1)} s, map ${(100 * m(rebuild.runs.map((r) => r.mapMs / (r.seconds * 1000)))).toFixed(1)} % of it`,
    });
  return {
    figure: '8',
    title: 'Verifiable status map',
    rows,
    notes: [
      `Status-changing records: the city load of figure 5 (resources, scenarios, need lists, grants, answers, revocations), each signed by its department and submitted in-process by 64 callers; × ref is against the access-log phase of the same load (the same path, records that change no status). The map share is the time in MapState.stage/seal over the phases' wall time.`,
      `appendBatch: figure 1's batch variant and reference A on the same event bytes, alternating, in this run; the map column counts what the access logs cost the map.`,
      `The big map (57 members, 31,000 resources, the rest grants): written to LevelDB in the ledger's own table layout ('V' current, 'W' history) by a bulk builder from the sorted keys (the map is canonical: the same nodes updateMap makes), then ${ctx.quick ? QUICK_CHANGE_BLOCKS : FULL_CHANGE_BLOCKS} blocks of ${CHANGE_BLOCK} grant changes by updateMap, as a ledger writes them. Disk per status change: the bytes the history table keeps for those changes (the current table's old values are overwritten and compacted away), beside the folder's growth before compaction. Proofs for ${fmt(ctx.quick ? QUICK_PROOFS : FULL_PROOFS)} sampled keys, sizes in the binary form (docs/formats.md); a past version is the map ${PAST_BLOCKS} blocks of changes before the last. The JSON bundle is a grant's three map proofs from this map with the checkpoint and block-entry inclusion proof of the city ledger. Peak RSS: while changing, proving and verifying (the builder's own peak, all keys sorted in memory, is in the JSON).`,
      'rebuildState: a ledger of resource registrations (one key each), rebuilt: state, indexes and map cleared and replayed from the records; the median of the runs (full size: no warm-up run, each takes minutes).',
    ],
    details: { load: load?.runs, batches, big, bundles, rebuild },
  };
}
