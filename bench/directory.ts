/**
 * Figure 5: the city directory. Loads the city workload (57 departments, 31,000 resources,
 * 150 scenarios, ~5,000 need-list requests, ~8,000 grants, 20,000 access logs) through the
 * public domain API, `ledger.directory.*`, every record signed by its author's own key, with
 * 64 concurrent callers (group commit) and `sync` durability; then measures the directory
 * queries on the loaded ledger, reopened read-only.
 *
 * References, in the same process, on the same bytes, in the same run:
 *   load     raw classic-level chained batches of 1000, `sync: true`, of the same entry bytes
 *            (read back from the ledger just loaded), sequential 9-byte entry keys
 *   catalog  (searchResources) a plain array of the same resource summaries (owner, theme, level,
 *            sharing, status, lower-cased text as the catalogue builds it), in id order, scanned
 *            with the same predicate, stopping at the same page limit
 *   index    (resourcesOf, activeGrants, grantsOfResource, accessLogsOfResource, openRequests)
 *            the raw classic-level iterator over the same index prefix, visiting the same number
 *            of keys as the query, plus `getSync` of each state value / log entry the query
 *            reads: the storage work without decoding, filtering or object building
 */
import { ClassicLevel } from 'classic-level';
import { statusMapWork } from '../src/chain/map-state.js';
import { isBlockEntry } from '../src/encoding/block-entry.js';
import { type Ledger, openLedger, type ResourceFilter } from '../src/index.js';
import { BUNDLE_WIDTH, pieceHolding } from '../src/storage/bundles.js';
import { indexPrefix, trailingId, trailingNumber } from '../src/storage/index-table.js';
import { bundleKey, numberKey, pieceKey } from '../src/storage/keys.js';
import { decodeEntity, entityKey } from '../src/storage/state-table.js';
import { prefixEnd } from '../src/storage/store.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  MB,
  median,
  percentileSorted,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import {
  type City,
  cityPhases,
  createCityLedger,
  FULL_CITY,
  makeDirectory,
  planCity,
  Rng,
  SEARCH_WORDS,
  scaledCity,
} from './workload.js';

const CONCURRENCY = 64;
const RAW_BATCH = 1000;
/** The raw reference's keys: 'E' + index, one LevelDB key per entry. */
const RAW_ENTRY = 0x45;
/** Quick mode loads a 1/40 city (775 resources); its warm-up a 1/100 one. */
export const QUICK_FRACTION = 0.025;
const QUICK_WARMUP_FRACTION = 0.01;
const FULL_WARMUP_FRACTION = 0.1;
const FULL_QUERIES = 2_000;
const QUICK_QUERIES = 100;
/** Every query asks for its first page with the default limit. */
const PAGE_LIMIT = 100;
/** Arguments whose results are checked against the references (untimed). */
const CHECKED_ARGS = 100;
const DAY = 86_400_000;

type DB = ClassicLevel<Uint8Array, Uint8Array>;

// ---- load -------------------------------------------------------------------------------------

export interface PhaseRun {
  readonly name: string;
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The status map's update time in this phase (src/chain/map-state.ts statusMapWork), ms. */
  readonly mapMs: number;
  /** Keys the map set in this phase, and the blocks that set any. */
  readonly mapKeys: number;
  readonly mapBlocks: number;
}

export interface LoadRun {
  readonly records: number;
  readonly bytes: number;
  /** Sum of the phases (genesis excluded). */
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly blocks: number;
  readonly diskBytes: number;
  readonly peakRssMiB: number;
  /** createLedger (genesis block, fsync). */
  readonly createSeconds: number;
  readonly phases: PhaseRun[];
}

export interface RawRun {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly diskBytes: number;
}

export function latencies(samples: Float64Array): { p50Ms: number; p99Ms: number } {
  const sorted = samples.slice().sort();
  return { p50Ms: percentileSorted(sorted, 50), p99Ms: percentileSorted(sorted, 99) };
}

/** Runs `n` calls from CONCURRENCY async loops, each awaiting its call before the next; stops at the first error. */
async function concurrently(
  n: number,
  call: (i: number) => Promise<unknown>,
  what: string,
): Promise<{ seconds: number; lat: Float64Array }> {
  const lat = new Float64Array(n);
  let next = 0;
  let failure: Error | undefined;
  const loop = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n || failure !== undefined) return;
      const t0 = performance.now();
      try {
        await call(i);
      } catch (e) {
        failure ??= new Error(`${what} #${i} was refused: ${(e as Error).message}`, { cause: e });
        return;
      }
      lat[i] = performance.now() - t0;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  if (failure !== undefined) throw failure;
  return { seconds: (performance.now() - start) / 1000, lat };
}

/**
 * Loads `city` into a new ledger in a temp folder. Returns the run, the folder (the caller removes
 * it) and the entry bytes of every record after genesis, read back after the timed load.
 */
export async function loadCity(city: City): Promise<{ run: LoadRun; path: string; entries: Uint8Array[] }> {
  const path = await tempDir('city');
  const rss = new RssSampler();
  let ledger: Ledger | undefined;
  try {
    const c0 = performance.now();
    ledger = await createCityLedger(path, city);
    const createSeconds = (performance.now() - c0) / 1000;
    const l = ledger;
    rss.start();
    const phases: Array<{
      name: string;
      from: number;
      to: number;
      records: number;
      seconds: number;
      lat: Float64Array;
      map: { ms: number; keys: number; blocks: number };
    }> = [];
    for (const phase of cityPhases(city)) {
      const before = l.head();
      const map0 = { ...statusMapWork };
      const { seconds, lat } = await concurrently(phase.count, (i) => phase.op(l, i), phase.name);
      const after = l.head();
      const map = {
        ms: statusMapWork.ms - map0.ms,
        keys: statusMapWork.keys - map0.keys,
        blocks: statusMapWork.blocks - map0.blocks,
      };
      // Each new block ends with a block entry: the rest of the new entries are the phase's records.
      const appended = after.size - before.size - (after.height - before.height);
      if (appended !== phase.count)
        throw new Error(`${phase.name}: ${appended} records appended, expected ${phase.count}`);
      phases.push({
        name: phase.name,
        from: before.size,
        to: after.size,
        records: appended,
        seconds,
        lat,
        map,
      });
      rss.sample();
    }
    const peakRssMiB = rss.stop();
    const head = l.head();
    // The records after genesis, in log order (not the block entries), and each phase's record bytes.
    const entries: Uint8Array[] = [];
    const phaseBytes = phases.map(() => 0);
    for (let i = 1, p = 0; i < head.size; i++) {
      const entry = l.getEntry(i);
      if (isBlockEntry(entry)) continue;
      entries.push(entry);
      while (p < phases.length && i >= phases[p]!.to) p++;
      if (p < phases.length && i >= phases[p]!.from) phaseBytes[p]! += entry.length;
    }
    await l.close();
    ledger = undefined;
    const phaseRuns: PhaseRun[] = phases.map((p, k) => {
      const bytes = phaseBytes[k]!;
      return {
        name: p.name,
        records: p.records,
        bytes,
        seconds: p.seconds,
        recordsPerSec: p.records / p.seconds,
        ...latencies(p.lat),
        mapMs: p.map.ms,
        mapKeys: p.map.keys,
        mapBlocks: p.map.blocks,
      };
    });
    const records = entries.length;
    const bytes = phaseRuns.reduce((s, p) => s + p.bytes, 0);
    const seconds = phaseRuns.reduce((s, p) => s + p.seconds, 0);
    const all = new Float64Array(records);
    let at = 0;
    for (const p of phases) {
      all.set(p.lat, at);
      at += p.lat.length;
    }
    return {
      run: {
        records,
        bytes,
        seconds,
        recordsPerSec: records / seconds,
        mbPerSec: bytes / seconds / MB,
        ...latencies(all),
        blocks: head.height,
        diskBytes: await dirBytes(path),
        peakRssMiB,
        createSeconds,
        phases: phaseRuns,
      },
      path,
      entries,
    };
  } catch (e) {
    rss.stop();
    await ledger?.close().catch(() => {});
    await removeDir(path);
    throw e;
  }
}

/** Reference A: the same entry bytes into raw classic-level, chained batches of 1000, `sync: true`. */
async function rawLevel(entries: readonly Uint8Array[]): Promise<RawRun> {
  const path = await tempDir('city-raw');
  try {
    const db: DB = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const n = entries.length;
    const batches = new Float64Array(Math.ceil(n / RAW_BATCH));
    let bytes = 0;
    const start = performance.now();
    for (let from = 0, b = 0; from < n; from += RAW_BATCH, b++) {
      const t0 = performance.now();
      const batch = db.batch();
      const to = Math.min(n, from + RAW_BATCH);
      for (let i = from; i < to; i++) {
        batch.put(numberKey(RAW_ENTRY, 1 + i), entries[i]!);
        bytes += entries[i]!.length;
      }
      await batch.write({ sync: true });
      batches[b] = performance.now() - t0;
    }
    const seconds = (performance.now() - start) / 1000;
    await db.close();
    return {
      records: n,
      bytes,
      seconds,
      recordsPerSec: n / seconds,
      mbPerSec: bytes / seconds / MB,
      ...latencies(batches),
      diskBytes: await dirBytes(path),
    };
  } finally {
    await removeDir(path);
  }
}

// ---- queries ----------------------------------------------------------------------------------

interface Summary {
  id: string;
  owner: string;
  theme: string;
  level: number;
  sharing: string;
  status: string;
  text: string;
}

/** The reference search: the same predicate as the catalogue over a plain array in id order. */
function arraySearch(summaries: readonly Summary[], filter: ResourceFilter, limit: number): string[] {
  const words = (filter.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const status = filter.status ?? 'active';
  const lv = filter.level;
  const [min, max] = typeof lv === 'number' ? [lv, lv] : [lv?.min ?? 1, lv?.max ?? 4];
  const out: string[] = [];
  for (const e of summaries) {
    if (filter.department !== undefined && e.owner !== filter.department) continue;
    if (filter.theme !== undefined && e.theme !== filter.theme) continue;
    if (filter.sharing !== undefined && e.sharing !== filter.sharing) continue;
    if (status !== 'any' && e.status !== status) continue;
    if (e.level < min || e.level > max) continue;
    if (words.length > 0 && !words.every((w) => e.text.includes(w))) continue;
    if (out.length === limit) break;
    out.push(e.id);
  }
  return out;
}

/** How a paged index scan walks a prefix: keys read from the iterator, and keys mapped to a value. */
interface Walk {
  readonly prefix: Uint8Array;
  readonly visited: number;
  readonly mapped: number;
}

/**
 * Mirrors DirectoryQuery's scan over `prefix` (untimed): every key is mapped until `limit` items
 * are kept, then one more key is read to know there is a next page.
 */
async function walkOf(
  db: DB,
  prefix: Uint8Array,
  limit: number,
  keep: (key: Uint8Array) => boolean,
): Promise<Walk> {
  let items = 0;
  let visited = 0;
  let mapped = 0;
  const end = prefixEnd(prefix);
  for await (const [k] of db.iterator({ gte: prefix, ...(end ? { lt: end } : {}) })) {
    visited++;
    if (items === limit) break;
    mapped++;
    if (keep(k)) items++;
  }
  return { prefix, visited, mapped };
}

/** The reference index scan: the same keys through the raw iterator, `getSync` of each mapped value. */
async function rawWalk(db: DB, w: Walk, valueKey: (key: Uint8Array) => Uint8Array): Promise<number> {
  const end = prefixEnd(w.prefix);
  let i = 0;
  for await (const [k] of db.iterator({ gte: w.prefix, ...(end ? { lt: end } : {}), limit: w.visited })) {
    if (i++ < w.mapped) db.getSync(valueKey(k));
  }
  return Math.min(i, w.mapped);
}

/**
 * The raw reads of a stored entry in storage format 5: its bundle's index,
 * then the piece that holds it (an entry of the open bundle is in the
 * ledger's memory; the reference skips it).
 */
function rawEntryRead(db: DB, index: number): void {
  const n = Math.floor(index / BUNDLE_WIDTH);
  const offsets = db.getSync(bundleKey(n));
  if (offsets === undefined) return;
  db.getSync(pieceKey(n * BUNDLE_WIDTH + pieceHolding(offsets, index % BUNDLE_WIDTH)));
}

/** The reference for accessLogsOfResource: all 'G' keys of the resource, then each grant's 'g' keys. */
async function rawLogsOfResource(db: DB, resource: string, limit: number): Promise<number> {
  const gPrefix = indexPrefix('G', resource);
  const grants: Uint8Array[] = [];
  for await (const [k] of db.iterator({ gte: gPrefix, lt: prefixEnd(gPrefix)! })) {
    grants.push(k.subarray(gPrefix.length));
  }
  let items = 0;
  for (const g of grants) {
    const prefix = new Uint8Array(2 + g.length + 1);
    prefix[0] = gPrefix[0]!;
    prefix[1] = 0x67; // 'g'
    prefix.set(g, 2);
    for await (const [k] of db.iterator({ gte: prefix, lt: prefixEnd(prefix)!, limit: limit - items + 1 })) {
      if (items === limit) return items;
      rawEntryRead(db, trailingNumber(k));
      items++;
    }
    if (items === limit) return items;
  }
  return items;
}

export interface QueryRun {
  readonly queries: number;
  readonly seconds: number;
  readonly queriesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Items returned per query, on average. */
  readonly avgItems: number;
}

export type Call = (i: number) => number | Promise<number>;

interface QueryDef {
  readonly key: string;
  readonly label: string;
  readonly refLabel: string;
  readonly run: Call;
  readonly ref: Call;
}

/** `n` queries one after another; each latency from the call to its result. */
export async function measure(n: number, call: Call): Promise<QueryRun> {
  const lat = new Float64Array(n);
  let items = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = call(i);
    items += typeof r === 'number' ? r : await r;
    lat[i] = performance.now() - t0;
  }
  const seconds = (performance.now() - start) / 1000;
  return { queries: n, seconds, queriesPerSec: n / seconds, ...latencies(lat), avgItems: items / n };
}

/** Deterministic query arguments, and the query/reference pairs over the open ledger. */
async function queryDefs(ledger: Ledger, city: City, n: number, seed: number): Promise<QueryDef[]> {
  const rng = new Rng(seed ^ 0x68e31da4);
  const q = ledger.query;
  const db = ledger.store.db;
  const depts = city.dir.departments.map((d) => d.id);

  // The catalogue's summaries, read through the public API (untimed), as the catalogue builds them.
  const summaries: Summary[] = [];
  let cursor: string | undefined;
  do {
    const page = q.searchResources({ status: 'any' }, { limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const r of page.items) {
      summaries.push({
        id: r.id,
        owner: r.owner,
        theme: r.theme,
        level: r.level,
        sharing: r.sharing,
        status: r.status,
        text: [r.title, r.description, r.theme, ...r.fields.map((f) => f.name)].join('\n').toLowerCase(),
      });
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (summaries.length !== city.resources.length)
    throw new Error(`catalogue holds ${summaries.length} resources, expected ${city.resources.length}`);

  const byDept: ResourceFilter[] = Array.from({ length: n }, () => ({ department: rng.pick(depts) }));
  const byThemeLevel: ResourceFilter[] = Array.from({ length: n }, () => ({
    theme: rng.pick(city.themes),
    level: rng.int(1, 4),
  }));
  const byText: ResourceFilter[] = Array.from({ length: n }, () => ({
    text: rng.float() < 0.6 ? rng.pick(SEARCH_WORDS) : `${rng.pick(SEARCH_WORDS)} ${rng.pick(SEARCH_WORDS)}`,
  }));
  const catalogPair = (key: string, label: string, args: ResourceFilter[]): QueryDef => ({
    key,
    label: `searchResources(${label})`,
    refLabel: `ref: array scan of ${summaries.length.toLocaleString('en-US')} summaries`,
    run: (i) => q.searchResources(args[i]!).items.length,
    ref: (i) => arraySearch(summaries, args[i]!, PAGE_LIMIT).length,
  });

  const resourcesArgs = Array.from({ length: n }, () => rng.pick(depts));
  const consumerArgs = Array.from({ length: n }, () => {
    const u = rng.float();
    const at =
      u < 0.5 ? city.now : u < 0.8 ? city.now - rng.int(0, 365) * DAY : city.now + rng.int(0, 365) * DAY;
    return { consumer: rng.pick(depts), at };
  });
  // Resources as users meet them: the resource of a random grant (grantsOfResource), of a random
  // access log (accessLogsOfResource).
  const resourceArgs = Array.from({ length: n }, () => rng.pick(city.grants).input.resource);
  const resourceOfGrant = new Map(city.grants.map((g) => [g.input.id, g.input.resource]));
  const loggedArgs = Array.from(
    { length: n },
    () => resourceOfGrant.get(rng.pick(city.accessLogs).input.grant)!,
  );
  const providerArgs = Array.from({ length: n }, () => rng.pick(depts));

  // The walks each index query makes, precomputed per argument for the raw references (untimed).
  const grantOf = (prefixLength: number) => (k: Uint8Array) =>
    decodeEntity('grant', db.getSync(entityKey('grant', trailingId(k, prefixLength)))!);
  const walks = async <A>(args: A[], make: (a: A) => [Uint8Array, (k: Uint8Array) => boolean]) => {
    const memo = new Map<string, Walk>();
    const out: Walk[] = [];
    for (const a of args) {
      const id = JSON.stringify(a);
      let w = memo.get(id);
      if (w === undefined) {
        const [prefix, keep] = make(a);
        w = await walkOf(db, prefix, PAGE_LIMIT, keep);
        memo.set(id, w);
      }
      out.push(w);
    }
    return out;
  };
  const resourceWalks = await walks(resourcesArgs, (d) => [indexPrefix('d', d), () => true]);
  const activeWalks = await walks(consumerArgs, ({ consumer, at }) => {
    const prefix = indexPrefix('c', consumer);
    const get = grantOf(prefix.length);
    return [
      prefix,
      (k) => {
        const g = get(k);
        return g.validFrom <= at && at < g.validTo && (g.revokedAt === null || g.revokedAt > at);
      },
    ];
  });
  const grantWalks = await walks(resourceArgs, (r) => [indexPrefix('G', r), () => true]);
  const openWalks = await walks(providerArgs, (p) => {
    const prefix = indexPrefix('p', p);
    return [
      prefix,
      (k) =>
        decodeEntity('request', db.getSync(entityKey('request', trailingId(k, prefix.length)))!).status ===
        'open',
    ];
  });
  const entityAt = (type: 'resource' | 'grant' | 'request', w: Walk) => (k: Uint8Array) =>
    entityKey(type, trailingId(k, w.prefix.length));

  const defs: QueryDef[] = [
    catalogPair('search.department', '{ department }', byDept),
    catalogPair('search.themeLevel', '{ theme, level }', byThemeLevel),
    catalogPair('search.text', '{ text: 1–2 words }', byText),
    {
      key: 'resourcesOf',
      label: 'resourcesOf(department)',
      refLabel: "ref: raw iterator 'd' prefix + getSync resource",
      run: async (i) => (await q.resourcesOf(resourcesArgs[i]!)).items.length,
      ref: (i) => rawWalk(db, resourceWalks[i]!, entityAt('resource', resourceWalks[i]!)),
    },
    {
      key: 'activeGrants',
      label: 'activeGrants(consumer, T)',
      refLabel: "ref: raw iterator 'c' prefix + getSync grant",
      run: async (i) => (await q.activeGrants(consumerArgs[i]!.consumer, consumerArgs[i]!.at)).items.length,
      ref: (i) => rawWalk(db, activeWalks[i]!, entityAt('grant', activeWalks[i]!)),
    },
    {
      key: 'grantsOfResource',
      label: 'grantsOfResource(resource)',
      refLabel: "ref: raw iterator 'G' prefix + getSync grant",
      run: async (i) => (await q.grantsOfResource(resourceArgs[i]!)).items.length,
      ref: (i) => rawWalk(db, grantWalks[i]!, entityAt('grant', grantWalks[i]!)),
    },
    {
      key: 'accessLogsOfResource',
      label: 'accessLogsOfResource(resource)',
      refLabel: "ref: raw iterators 'G' + 'g' prefixes + getSync entry",
      run: async (i) => (await q.accessLogsOfResource(loggedArgs[i]!)).items.length,
      ref: (i) => rawLogsOfResource(db, loggedArgs[i]!, PAGE_LIMIT),
    },
    {
      key: 'openRequests',
      label: 'openRequests(provider)',
      refLabel: "ref: raw iterator 'p' prefix + getSync request",
      run: async (i) => (await q.openRequests(providerArgs[i]!)).items.length,
      ref: (i) => rawWalk(db, openWalks[i]!, entityAt('request', openWalks[i]!)),
    },
  ];

  // Same answers as the references, argument by argument (untimed): the catalogue search ids, and
  // the index queries' item counts against the walks.
  for (let i = 0; i < Math.min(n, CHECKED_ARGS); i++) {
    for (const [args, label] of [
      [byDept, 'department'],
      [byThemeLevel, 'theme+level'],
      [byText, 'text'],
    ] as const) {
      const a = q.searchResources(args[i]!).items.map((r) => r.id);
      const b = arraySearch(summaries, args[i]!, PAGE_LIMIT);
      if (a.join() !== b.join()) throw new Error(`search by ${label} #${i}: catalogue and reference differ`);
    }
    const checks: Array<[string, number, Walk]> = [
      ['resourcesOf', (await q.resourcesOf(resourcesArgs[i]!)).items.length, resourceWalks[i]!],
      [
        'activeGrants',
        (await q.activeGrants(consumerArgs[i]!.consumer, consumerArgs[i]!.at)).items.length,
        activeWalks[i]!,
      ],
      ['openRequests', (await q.openRequests(providerArgs[i]!)).items.length, openWalks[i]!],
    ];
    for (const [name, items, w] of checks) {
      if (items > w.mapped || (w.visited > w.mapped && items !== PAGE_LIMIT))
        throw new Error(`${name} #${i}: ${items} items, walk ${w.mapped}/${w.visited}`);
    }
    const logs = (await q.accessLogsOfResource(loggedArgs[i]!)).items.length;
    if (logs !== (await rawLogsOfResource(db, loggedArgs[i]!, PAGE_LIMIT)))
      throw new Error(`accessLogsOfResource #${i}: differs from the raw walk`);
  }
  return defs;
}

// ---- the figure -------------------------------------------------------------------------------

const fmtN = (v: number): string => Math.round(v).toLocaleString('en-US');

export async function figureDirectory(ctx: BenchContext): Promise<FigureResult> {
  const scale = ctx.quick ? scaledCity(QUICK_FRACTION) : FULL_CITY;
  const warmScale = scaledCity(ctx.quick ? QUICK_WARMUP_FRACTION : FULL_WARMUP_FRACTION);
  const nQueries = ctx.quick ? QUICK_QUERIES : FULL_QUERIES;
  const figureStart = performance.now();
  const log = (line: string): void =>
    ctx.log(`${line} [${((performance.now() - figureStart) / 1000).toFixed(1)} s]`);
  log(
    `figure 5: planning the city (${scale.resources} resources, ${scale.grants} grants, seed ${ctx.seed})...`,
  );
  const p0 = performance.now();
  const dir = makeDirectory(ctx.seed);
  const city = planCity(dir, scale);
  const warmCity = planCity(dir, warmScale);
  const planSeconds = (performance.now() - p0) / 1000;
  const phaseNames = cityPhases(city).map((p) => p.name);
  const stats = {
    resources: city.resources.length,
    byLevel: [1, 2, 3, 4].map((lv) => city.resources.filter((r) => r.level === lv).length),
    bySharing: (['unconditional', 'conditional', 'none'] as const).map(
      (s) => city.resources.filter((r) => r.sharing === s).length,
    ),
    avgFields: city.resources.reduce((s, r) => s + r.fields.length, 0) / city.resources.length,
    scenarios: city.scenarios.length,
    requests: city.requests.length,
    openRequests: city.requests.filter((r) => r.fate === 'open').length,
    grants: city.grants.length,
    countersigned: city.grants.filter((g) => g.countersign).length,
    answeringRequests: city.grants.filter((g) => g.input.request !== undefined).length,
    revoked: city.grants.filter((g) => g.revokeBy !== undefined).length,
    expired: city.grants.filter((g) => g.input.validTo <= city.now).length,
    notYetValid: city.grants.filter((g) => g.input.validFrom > city.now).length,
    accessLogs: city.accessLogs.length,
  };
  collectGarbage();
  const baselineRssMiB = process.memoryUsage.rss() / (1024 * 1024);
  log(`  planned in ${planSeconds.toFixed(1)} s: ${JSON.stringify(stats)}`);

  // Warm-up load (a smaller city) and its reference.
  log(`  warm-up load (${warmScale.resources} resources)`);
  {
    const w = await loadCity(warmCity);
    await removeDir(w.path);
    await rawLevel(w.entries);
    collectGarbage();
  }
  const loads: LoadRun[] = [];
  const raws: RawRun[] = [];
  let keptPath: string | undefined;
  try {
    for (let r = 0; r < ctx.runs; r++) {
      const { run, path, entries } = await loadCity(city);
      if (r === ctx.runs - 1) keptPath = path;
      else await removeDir(path);
      loads.push(run);
      collectGarbage();
      const raw = await rawLevel(entries);
      raws.push(raw);
      log(
        `  load ${r + 1}/${ctx.runs}: ${fmtN(run.records)} records in ${run.seconds.toFixed(1)} s ` +
          `(${fmtN(run.recordsPerSec)} rec/s; ${run.phases.map((p) => `${p.name} ${fmtN(p.recordsPerSec)}/s`).join(', ')}); ` +
          `raw LevelDB ${fmtN(raw.recordsPerSec)} rec/s`,
      );
      collectGarbage();
    }

    // Reopen read-only (catalogue rebuilt from the stored resources): one warm-up, then `runs` opens.
    const openSeconds: number[] = [];
    let ledger: Ledger | undefined;
    for (let r = 0; r <= ctx.runs; r++) {
      await ledger?.close();
      const t0 = performance.now();
      ledger = await openLedger(keptPath!);
      if (r > 0) openSeconds.push((performance.now() - t0) / 1000);
    }
    const l = ledger!;
    try {
      log(`  reopened read-only in ${median(openSeconds).toFixed(2)} s; preparing ${nQueries} queries each`);
      const defs = await queryDefs(l, city, nQueries, ctx.seed);
      const warm: Record<string, { run: QueryRun; ref: QueryRun }> = {};
      const runs: Record<string, { run: QueryRun[]; ref: QueryRun[] }> = {};
      for (const d of defs) {
        warm[d.key] = { run: await measure(nQueries, d.run), ref: await measure(nQueries, d.ref) };
        runs[d.key] = { run: [], ref: [] };
        for (let r = 0; r < ctx.runs; r++) {
          runs[d.key]!.run.push(await measure(nQueries, d.run));
          runs[d.key]!.ref.push(await measure(nQueries, d.ref));
        }
        const m = runs[d.key]!;
        log(
          `  ${d.label.padEnd(32)} ${fmtN(median(m.run.map((x) => x.queriesPerSec)))} q/s ` +
            `(ref ${fmtN(median(m.ref.map((x) => x.queriesPerSec)))} q/s)`,
        );
        collectGarbage();
      }

      // ---- rows
      const rows: Row[] = [];
      const rawRate = median(raws.map((x) => x.recordsPerSec));
      rows.push({
        figure: '5',
        variant: 'load ref A: raw LevelDB batch 1000, sync',
        recordsPerSec: rawRate,
        mbPerSec: median(raws.map((x) => x.mbPerSec)),
        ratio: 1,
        p50Ms: median(raws.map((x) => x.p50Ms)),
        p99Ms: median(raws.map((x) => x.p99Ms)),
        diskBytesPerRecord: median(raws.map((x) => x.diskBytes / x.records)),
        extra: 'same entry bytes; p50/p99 per batch',
      });
      const totalSeconds = median(loads.map((x) => x.seconds));
      rows.push({
        figure: '5',
        variant: `load: city total, ${fmtN(loads[0]!.records)} records`,
        recordsPerSec: median(loads.map((x) => x.recordsPerSec)),
        mbPerSec: median(loads.map((x) => x.mbPerSec)),
        ratio: median(loads.map((x, r) => x.recordsPerSec / raws[r]!.recordsPerSec)),
        p50Ms: median(loads.map((x) => x.p50Ms)),
        p99Ms: median(loads.map((x) => x.p99Ms)),
        diskBytesPerRecord: median(loads.map((x) => x.diskBytes / x.records)),
        peakRssMiB: Math.max(...loads.map((x) => x.peakRssMiB)),
        extra: `${totalSeconds.toFixed(1)} s; ${(loads[0]!.records / median(loads.map((x) => x.blocks))).toFixed(1)} rec/block`,
      });
      phaseNames.forEach((name, k) => {
        const ps = loads.map((x) => x.phases[k]!);
        rows.push({
          figure: '5',
          variant: `  load: ${name} (${fmtN(ps[0]!.records)})`,
          recordsPerSec: median(ps.map((p) => p.recordsPerSec)),
          mbPerSec: median(ps.map((p) => p.bytes / p.seconds / MB)),
          ratio: median(ps.map((p, r) => p.recordsPerSec / raws[r]!.recordsPerSec)),
          p50Ms: median(ps.map((p) => p.p50Ms)),
          p99Ms: median(ps.map((p) => p.p99Ms)),
          extra: `${median(ps.map((p) => p.seconds)).toFixed(2)} s; ${(ps[0]!.bytes / ps[0]!.records).toFixed(0)} B/rec`,
        });
      });
      rows.push({
        figure: '5',
        variant: 'openLedger (read-only, catalogue rebuild)',
        recordsPerSec: city.resources.length / median(openSeconds),
        extra: `${(median(openSeconds) * 1000).toFixed(0)} ms; rate = resources/s`,
      });
      for (const d of defs) {
        const m = runs[d.key]!;
        rows.push({
          figure: '5',
          variant: d.refLabel,
          recordsPerSec: median(m.ref.map((x) => x.queriesPerSec)),
          ratio: 1,
          p50Ms: median(m.ref.map((x) => x.p50Ms)),
          p99Ms: median(m.ref.map((x) => x.p99Ms)),
        });
        rows.push({
          figure: '5',
          variant: d.label,
          recordsPerSec: median(m.run.map((x) => x.queriesPerSec)),
          ratio: median(m.run.map((x, r) => x.queriesPerSec / m.ref[r]!.queriesPerSec)),
          p50Ms: median(m.run.map((x) => x.p50Ms)),
          p99Ms: median(m.run.map((x) => x.p99Ms)),
          extra: `avg ${m.run[0]!.avgItems.toFixed(1)} items/query`,
        });
      }

      const [l1, l2, l3, l4] = stats.byLevel;
      const [su, sc, sn] = stats.bySharing;
      const notes = [
        `${ctx.quick ? `QUICK: a 1/${Math.round(1 / QUICK_FRACTION)} city` : 'the full city'} — 57 departments + the bureau admin in genesis; ` +
          `${fmtN(stats.resources)} resources (levels ${l1}/${l2}/${l3}/${l4}; unconditional/conditional/none ${su}/${sc}/${sn}; ` +
          `avg ${stats.avgFields.toFixed(1)} fields), ${stats.scenarios} scenarios, ${fmtN(stats.requests)} requests ` +
          `(${fmtN(stats.openRequests)} left open), ${fmtN(stats.grants)} grants (${stats.answeringRequests} answer a request, ` +
          `${stats.countersigned} countersigned by the bureau for level-4 fields, ${stats.expired} expired, ` +
          `${stats.notYetValid} not yet valid, ${stats.revoked} revoked), ${fmtN(stats.accessLogs)} access.log records. Seed ${ctx.seed}.`,
        `Load: every record through ledger.directory.* signed by its author's own key, ${CONCURRENCY} concurrent callers ` +
          "(group commit), durability 'sync', phase by phase; the ledger clock is fixed at 2025-06-30 (reproducible bytes). " +
          `Median of ${ctx.runs} loads after a warm-up load of a ${warmScale.resources}-resource city; ` +
          `× ref = median over rounds of (load rate ÷ ref A's rate on that load's entry bytes). p50/p99 = ack latency per append. ` +
          `RSS with the planned city in memory, before the loads: ${baselineRssMiB.toFixed(0)} MiB.`,
        `Queries: ${fmtN(nQueries)} per run, one at a time, first page (limit ${PAGE_LIMIT}), deterministic random ` +
          'arguments (departments uniform; T = now / past year / next year 50/30/20 %; resources weighted by grants, ' +
          'by access logs for accessLogsOfResource); on the last loaded ledger reopened read-only; median of ' +
          `${ctx.runs} runs after a warm-up run, round-robin with the ref row above each query; × ref = median over ` +
          'rounds of (query rate ÷ ref rate). Catalogue refs: a plain array of the same summaries in id order, same ' +
          'predicate, same early stop. Index refs: the raw classic-level iterator over the same keys (limit = keys the ' +
          'query visits) + getSync of each value it reads, no decoding; dirchain can beat them because its entity ' +
          `cache answers from memory once warm. Results checked against the refs for the first ${CHECKED_ARGS} arguments.`,
        'Not measured: blind-token search (BENCH.md figure 5) — the feature does not exist yet.',
      ];
      return {
        figure: '5',
        title: 'Queries on the city directory (and its load through the domain API)',
        rows,
        notes,
        details: {
          scale,
          warmScale,
          stats,
          planSeconds,
          baselineRssMiB,
          queries: nQueries,
          pageLimit: PAGE_LIMIT,
          concurrency: CONCURRENCY,
          loads,
          raws,
          openSeconds,
          queryWarmup: warm,
          queryRuns: runs,
        },
      };
    } finally {
      await l.close();
    }
  } finally {
    if (keptPath !== undefined) await removeDir(keptPath);
  }
}
