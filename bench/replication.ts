import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { formatVerifierKey } from '../src/crypto/note.js';
import { blockHeaderOfNote } from '../src/encoding/checkpoint.js';
import { loadSigner } from '../src/index.js';
import { ENTRIES_LEVEL, TILE_HEIGHT, TILE_WIDTH, tilePath, tileWidthAt } from '../src/merkle/tiles.js';
import { follow } from '../src/sync/follower.js';
import { publish } from '../src/sync/publish.js';
import { benchCli, nodeFolder, startChild } from './child.js';
import { buildBatchLedger } from './feed.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  MB,
  median,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import { makeDirectory } from './workload.js';

const QUICK_N = 5_000;
const FULL_N = 1_000_000;
const QUICK_WARM_N = 1_000;
const FULL_WARM_N = 50_000;
/**
 * Requests the raw fetch keeps in flight: the follower reads 4 entry bundles
 * ahead, each with its hash tile, so up to 8 of its requests are outstanding.
 */
const FETCH_IN_FLIGHT = 8;
/** How long the server may take to print its URL before the figure gives up. */
const SERVER_START_MS = 60_000;

type VariantId = 'fetch' | 'http' | 's3' | 'local';
const ORDER: readonly VariantId[] = ['fetch', 'http', 's3', 'local'];
const LABELS: Record<VariantId, string> = {
  fetch: 'ref 2: raw HTTP fetch of the same tiles, no verify',
  http: 'follower: replica from a node over loopback HTTP',
  s3: 'follower: replica from the object store (s3rver)',
  local: 'ref: the same follower from the local folder, no HTTP',
};

interface RunResult {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  /** HTTP body bytes fetched per second (10^6 B). */
  readonly mbPerSec?: number;
  readonly requests?: number;
  readonly bytes?: number;
  readonly peakRssMiB: number;
}

/** `dirchain node <dir> --public` as a child process (bench/child.ts): started, its URL read, stopped. */
async function startNodeChild(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const args = [
    benchCli('figure 4'),
    'node',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--public',
    '--log-level',
    'error',
    '--json',
  ];
  const child = await startChild('dirchain node', args, SERVER_START_MS);
  return {
    url: child.first.url as string,
    // SIGTERM (the node closes its store), SIGKILL if it has not gone in 10 s.
    stop: async () => {
      const code = await child.stop(10_000);
      if (code !== 0) throw new Error(`dirchain node exited with code ${code} when stopped`);
    },
  };
}

/** s3rver in a child process (scripts/s3rver-child.mjs), with one bucket; its address read from stdout. */
async function startS3Child(
  dir: string,
  bucket: string,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('../scripts/s3rver-child.mjs', import.meta.url));
  const child = await startChild('s3rver', [script, dir, bucket], 20_000);
  return {
    endpoint: `http://127.0.0.1:${child.first.port as number}`,
    stop: async () => {
      await child.stop(10_000);
    },
  };
}

/** s3rver's one account (its README). */
const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const BUCKET = 'ledgers';

/** Every path the follower fetches, in its order: checkpoint, block bundles, entry bundles + tiles, upper tiles. */
function servedPaths(size: number, height: number): string[] {
  const paths = ['checkpoint'];
  for (let n = 0; n * TILE_WIDTH < height + 1; n++) {
    const width = Math.min(TILE_WIDTH, height + 1 - n * TILE_WIDTH);
    paths.push(`dirchain/blocks/${tilePath({ level: 0, n, width }).slice('tile/0/'.length)}`);
  }
  for (let n = 0; n * TILE_WIDTH < size; n++) {
    const width = tileWidthAt(ENTRIES_LEVEL, n, size);
    paths.push(tilePath({ level: ENTRIES_LEVEL, n, width }), tilePath({ level: 0, n, width }));
  }
  for (let level = 1; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++) {
    const count = Math.floor(size / 2 ** (TILE_HEIGHT * level));
    for (let n = 0; n * TILE_WIDTH < count; n++)
      paths.push(tilePath({ level, n, width: tileWidthAt(level, n, size) }));
  }
  return paths;
}

async function fetchBody(url: string): Promise<number> {
  const res = await fetch(url);
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`${url} answered HTTP ${res.status}`);
  }
  return (await res.arrayBuffer()).byteLength;
}

/** (c) Fetches everything the follower would, FETCH_IN_FLIGHT at a time, bodies read and dropped. */
async function runFetch(url: string): Promise<RunResult> {
  const rss = new RssSampler();
  rss.start();
  const start = performance.now();
  let bytes = 0;
  const checkpoint = await fetch(new URL('checkpoint', url));
  if (checkpoint.status !== 200) throw new Error(`${url}checkpoint answered HTTP ${checkpoint.status}`);
  const note = await checkpoint.text();
  bytes += Buffer.byteLength(note);
  const { header } = blockHeaderOfNote(note);
  const paths = servedPaths(header.size, header.height).slice(1);
  let next = 0;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) {
      // Not `bytes += await …`: that reads `bytes` before the await and loses the other loops' counts.
      const got = await fetchBody(new URL(paths[i]!, url).href);
      bytes += got;
    }
  };
  await Promise.all(Array.from({ length: FETCH_IN_FLIGHT }, loop));
  const seconds = (performance.now() - start) / 1000;
  return {
    records: header.size,
    seconds,
    recordsPerSec: header.size / seconds,
    mbPerSec: bytes / seconds / MB,
    requests: paths.length + 1,
    bytes,
    peakRssMiB: rss.stop(),
  };
}

/** (a) or (b): a fresh replica made by the follower, from the node's URL or from the folder. */
async function runFollow(
  source: string,
  verifierKey: string,
  expected: number,
  scratch: string,
): Promise<RunResult> {
  const replica = join(scratch, 'replica');
  await removeDir(replica);
  const rss = new RssSampler();
  rss.start();
  const start = performance.now();
  const report = await follow(replica, source, { verifierKey, once: true });
  const seconds = (performance.now() - start) / 1000;
  const peak = rss.stop();
  await removeDir(replica);
  if (report.size !== expected)
    throw new Error(`the follower of ${source} reached size ${report.size}, the ledger has ${expected}`);
  return {
    records: report.size,
    seconds,
    recordsPerSec: report.size / seconds,
    peakRssMiB: peak,
    requests: report.fetched.requests,
    bytes: report.fetched.bytes,
    mbPerSec: report.fetched.bytes / seconds / MB,
  };
}

/** One round: a node for fetch and http, stopped before local (the node holds the folder's lock). */
async function runRound(
  dir: string,
  scratch: string,
  bucketUrl: string,
  trustedKey: string,
  entries: number,
  log: (line: string) => void,
  label: string,
): Promise<Record<VariantId, RunResult>> {
  const server = await startNodeChild(dir);
  let fetched: RunResult;
  let http: RunResult;
  try {
    fetched = await runFetch(server.url);
    collectGarbage();
    http = await runFollow(server.url, trustedKey, entries, scratch);
    collectGarbage();
  } finally {
    await server.stop();
  }
  if (fetched.records !== entries)
    throw new Error(`served checkpoint has ${fetched.records} records, built ${entries}`);
  // The follower fetches all of these, and a little more: the genesis block first (the replica is
  // made from it), then the few tiles of its consistency check from that replica's size.
  if (http.bytes! < fetched.bytes!)
    throw new Error(
      `the raw fetch moved ${fetched.requests} requests / ${fetched.bytes} B, the follower only ` +
        `${http.requests} / ${http.bytes} B: servedPaths no longer matches what the follower fetches`,
    );
  const local = await runFollow(join(dir, 'ledger'), trustedKey, entries, scratch);
  collectGarbage();
  const s3 = await runFollow(bucketUrl, trustedKey, entries, scratch);
  collectGarbage();
  const rounds = { fetch: fetched, http, s3, local };
  for (const v of ORDER)
    log(`  ${label} ${v.padEnd(5)} ${Math.round(rounds[v].recordsPerSec).toLocaleString('en-US')} records/s`);
  return rounds;
}

/** Builds a served-folder layout (<dir>/ledger) of `n` events; returns its entry count. */
async function build(
  dir: string,
  seed: number,
  n: number,
): Promise<{ entries: number; seconds: number; signMs: number }> {
  // Events plus one seal per 64 events plus genesis: ask for that many entries.
  const built = await buildBatchLedger(join(dir, 'ledger'), seed, n + Math.ceil(n / 64) + 1);
  // `dirchain node` reads the sequencer key where `dirchain init` leaves it.
  await nodeFolder(dir, makeDirectory(seed).sequencerKey);
  return built;
}

export async function figureReplication(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.n > 0 ? ctx.n : ctx.quick ? QUICK_N : FULL_N;
  const warmN = ctx.quick ? QUICK_WARM_N : FULL_WARM_N;
  const sequencer = loadSigner(makeDirectory(ctx.seed).sequencerKey);
  const trustedKey = formatVerifierKey(sha256Node, sequencer.name, sequencer.publicKey);
  const warmDir = await tempDir('replication-warm');
  const dir = await tempDir('replication');
  const scratch = await tempDir('replication-replica');
  const s3Dir = await tempDir('replication-s3');
  let s3: Awaited<ReturnType<typeof startS3Child>> | undefined;
  try {
    ctx.log(`figure 4: building a ledger of ${n.toLocaleString('en-US')} events (and a warm-up one)...`);
    const warm = await build(warmDir, ctx.seed, warmN);
    const built = await build(dir, ctx.seed, n);
    const diskBytes = await dirBytes(join(dir, 'ledger'));
    ctx.log(
      `  ${built.entries.toLocaleString('en-US')} entries built in ${built.seconds.toFixed(1)} s; ` +
        `${(diskBytes / MB).toFixed(0)} MB on disk`,
    );
    collectGarbage();
    // Both ledgers published once (untimed) to one s3rver process, under their own prefixes.
    // (The SDK's notice that its 2027 releases need Node 22 is not the figure's business; the lock file pins it.)
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    s3 = await startS3Child(s3Dir, BUCKET);
    const published: Record<string, number> = {};
    for (const [prefix, from] of [
      ['warm', warmDir],
      ['big', dir],
    ] as const) {
      const t = performance.now();
      const report = await publish(join(from, 'ledger'), `s3://${BUCKET}/${prefix}`, {
        endpoint: s3.endpoint,
        credentials: S3_CREDENTIALS,
        region: 'us-east-1',
      });
      published[prefix] = (performance.now() - t) / 1000;
      ctx.log(
        `  published ${prefix}: ${report.uploaded.toLocaleString('en-US')} objects in ${published[prefix]!.toFixed(1)} s`,
      );
    }
    const endpoint = s3.endpoint;
    const bucketUrl = (prefix: string) => `${endpoint}/${BUCKET}/${prefix}/`;
    const warmup = await runRound(
      warmDir,
      scratch,
      bucketUrl('warm'),
      trustedKey,
      warm.entries,
      ctx.log,
      'warm-up',
    );
    await removeDir(warmDir);
    const runs: Record<VariantId, RunResult[]> = { fetch: [], http: [], s3: [], local: [] };
    for (let r = 0; r < ctx.runs; r++) {
      const round = await runRound(
        dir,
        scratch,
        bucketUrl('big'),
        trustedKey,
        built.entries,
        ctx.log,
        `run ${r + 1}/${ctx.runs}`,
      );
      for (const v of ORDER) runs[v].push(round[v]);
    }
    const ratio = (v: VariantId, ref: VariantId): number =>
      median(runs[v].map((x, i) => x.recordsPerSec / runs[ref][i]!.recordsPerSec));
    const rows: Row[] = ORDER.map((v) => ({
      figure: '4',
      variant: LABELS[v],
      recordsPerSec: median(runs[v].map((x) => x.recordsPerSec)),
      ...(v === 'local' ? {} : { mbPerSec: median(runs[v].map((x) => x.mbPerSec!)) }),
      ratio: ratio(v, 'local'),
      ratio2: ratio(v, 'fetch'),
      ...(v === 'http' ? { diskBytesPerRecord: diskBytes / built.entries } : {}),
      peakRssMiB: Math.max(...runs[v].map((x) => x.peakRssMiB)),
      extra:
        v === 'local'
          ? `${runs.local[0]!.requests!.toLocaleString('en-US')} folder reads, no HTTP`
          : `${runs[v][0]!.requests!.toLocaleString('en-US')} requests, ${(runs[v][0]!.bytes! / MB).toFixed(1)} MB`,
    }));
    const notes = [
      `${built.entries.toLocaleString('en-US')} entries (${n.toLocaleString('en-US')} access-log events in ` +
        'pre-signed batches of 64, their seals and genesis), built once (untimed, durability buffered, ' +
        `${Math.round(built.entries / built.seconds).toLocaleString('en-US')} entries/s); records/s = entries ` +
        `replicated (or fetched) per second; median of ${ctx.runs} rounds after a warm-up round on a ` +
        `${warm.entries.toLocaleString('en-US')}-entry ledger.`,
      'follower: follow(replica, url, { verifierKey, once: true }) into a fresh folder from `node dist-bench/cli.js ' +
        'node <dir> --public` (the CLI bundled from the same source) in a child process on 127.0.0.1 (the node ' +
        'shares the 2 cores): it fetches the checkpoint, block-note bundles, entry bundles with their level-0 hash ' +
        'tiles (4 bundles read ahead) and the upper tiles, replays every entry through the state machine (every ' +
        'note, record and seal signature, event, policy verdict, root, block link, tile) and writes each block ' +
        'durably (sync), as the sequencer does.',
      'object store: the ledger published once (untimed, `publish(folder, "s3://ledgers/big", { endpoint })`) to ' +
        's3rver, an S3-compatible server in a child process on 127.0.0.1 (it stores each object as a file), and ' +
        "followed from the bucket's HTTP address alone, as from the node.",
      '× ref = median over rounds of (rate ÷ the same follower making a replica from the ledger folder itself, ' +
        'read through the code that serves it, no HTTP, in the same round); × ref 2 = likewise ÷ the raw fetch of ' +
        `the same resources (${FETCH_IN_FLIGHT} in flight, bodies read, nothing decoded, verified or stored): the ` +
        'transport ceiling. MB/s = body bytes read.',
    ];
    return {
      figure: '4',
      title:
        'Replication catch-up (a fresh follower from a node over loopback HTTP, verifying and storing everything)',
      rows,
      notes,
      details: {
        n,
        entries: built.entries,
        warmEntries: warm.entries,
        diskBytes,
        build: built,
        warmup,
        runs,
        publishSeconds: published,
      },
    };
  } finally {
    await s3?.stop();
    await removeDir(warmDir);
    await removeDir(dir);
    await removeDir(scratch);
    await removeDir(s3Dir);
  }
}
