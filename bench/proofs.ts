/**
 * Figure 3: Merkle proofs at log size 1M (quick: 10k). One ledger is built
 * once (untimed; pre-signed batches of 64 events through `appendBatch`, the
 * fastest path) and reopened read-only, as a log server would serve it. Then,
 * per round: inclusion proofs for random indexes against the latest
 * checkpoint, generated three ways (`inclusionProof`, the RFC 9162 audit path
 * alone; `proveInclusion` without attribution, the bundle with the entry and
 * checkpoint; and with the event's attribution, the seal and its path, as
 * auditors get it), verified with the main entry's `verifyInclusion` (node
 * hashing: OpenSSL leaves, the unrolled JS node hash) and with the pure-JS
 * `dirchain/verify` entry (noble); consistency proofs between random pairs
 * of block-ending sizes, likewise. The reference is the hashing those
 * verifications cannot avoid: a plain in-memory loop of node's SHA-256
 * (OpenSSL) over 0x01‖left‖right node pairs, as many hashes as the round's
 * verifications made.
 */

import { ClassicLevel } from 'classic-level';
import { toHex } from '../src/crypto/bytes.js';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { sha256Noble } from '../src/crypto/sha256.js';
import { type TreeHasher, treeHasher } from '../src/crypto/tree-hasher.js';
import {
  type ConsistencyBundle,
  type InclusionBundle,
  type Ledger,
  openLedger,
  verifyConsistency as verifyConsistencyNode,
  verifyInclusion as verifyInclusionNode,
} from '../src/index.js';
import { checkConsistency, checkInclusion } from '../src/merkle/check.js';
import { verifyConsistency, verifyInclusion } from '../src/verify.js';
import { BUILD_CALLERS, buildBatchLedger } from './feed.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  MiB,
  median,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import { Rng } from './workload.js';

const QUICK_SIZE = 10_000;
const FULL_SIZE = 1_000_000;
const QUICK_PROOFS = 1_000;
const FULL_PROOFS = 20_000;

type VariantId =
  | 'refIncl'
  | 'inclGen'
  | 'inclBundle'
  | 'inclNode'
  | 'inclJs'
  | 'attrGen'
  | 'refCons'
  | 'consGen'
  | 'consNode'
  | 'consJs';
const ORDER: readonly VariantId[] = [
  'refIncl',
  'inclGen',
  'inclBundle',
  'inclNode',
  'inclJs',
  'attrGen',
  'refCons',
  'consGen',
  'consNode',
  'consJs',
];
const LABELS: Record<VariantId, string> = {
  refIncl: 'ref: node SHA-256 pairs, as inclusion verifies',
  inclGen: 'inclusion proofs generated (inclusionProof: the audit path)',
  inclBundle: 'inclusion bundles generated (proveInclusion: + entry, checkpoint)',
  inclNode: 'inclusion verified, main entry (node hashing)',
  inclJs: 'inclusion verified, dirchain/verify (pure JS)',
  attrGen: 'inclusion + event attribution generated',
  refCons: 'ref: node SHA-256 pairs, as consistency verifies',
  consGen: 'consistency proofs generated (proveConsistency)',
  consNode: 'consistency verified, main entry (node hashing)',
  consJs: 'consistency verified, dirchain/verify (pure JS)',
};
/** Which reference each row is measured against (its × ref), and the pure-JS rows' second reference. */
const REF_OF: Record<VariantId, 'refIncl' | 'refCons'> = {
  refIncl: 'refIncl',
  inclGen: 'refIncl',
  inclBundle: 'refIncl',
  inclNode: 'refIncl',
  inclJs: 'refIncl',
  attrGen: 'refIncl',
  refCons: 'refCons',
  consGen: 'refCons',
  consNode: 'refCons',
  consJs: 'refCons',
};

const nodeHasher = treeHasher(sha256Node);

/** A hasher that counts its calls: how many SHA-256 operations a verification makes (counted untimed). */
function countingHasher(inner: TreeHasher): { hasher: TreeHasher; count: () => number } {
  let n = 0;
  return {
    hasher: {
      leaf: (e) => {
        n++;
        return inner.leaf(e);
      },
      node: (l, r) => {
        n++;
        return inner.node(l, r);
      },
      emptyRoot: inner.emptyRoot,
    },
    count: () => n,
  };
}

/**
 * The reference: `hashes` SHA-256 operations over 65-byte node pairs
 * (0x01‖left‖right) in a plain loop, chained so none can be skipped. Seconds.
 */
function hashLoop(hashes: number, sha256: (b: Uint8Array) => Uint8Array, sibling: Uint8Array): number {
  const buf = new Uint8Array(65);
  buf[0] = 1;
  buf.set(sibling, 33);
  let r = sibling;
  const start = performance.now();
  for (let i = 0; i < hashes; i++) {
    buf.set(r, 1);
    r = sha256(buf);
  }
  const seconds = (performance.now() - start) / 1000;
  if (r.length !== 32) throw new Error('hash loop lost its result');
  return seconds;
}

/**
 * Compacts the whole store (untimed), as LevelDB does by itself once a log
 * has been at rest for a while: right after a million-record build, the
 * first minutes of reads otherwise compete with its background compaction
 * (measured: bare proofs 36k/s on the freshly built folder vs 50k/s once
 * settled). Seconds taken.
 */
async function settle(path: string): Promise<number> {
  const start = performance.now();
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await db.compactRange(new Uint8Array([0]), new Uint8Array(32).fill(0xff));
  } finally {
    await db.close();
  }
  return (performance.now() - start) / 1000;
}

/** Sizes at which a block ends (checkpoints exist only there). */
function blockSizes(ledger: Ledger): number[] {
  const sizes: number[] = [];
  for (let h = 1; h <= ledger.head().height; h++) sizes.push(ledger.block(h).header.size);
  return sizes;
}

interface Round {
  /** Seconds per variant, plus the noble hash loops (inclJsRef, consJsRef). */
  readonly seconds: Record<string, number>;
  readonly inclHashes: number;
  readonly consHashes: number;
  readonly avgInclProof: number;
  readonly avgConsProof: number;
  /** Bytes of the distinct buffers the round's inclusion bundles keep alive (proof hashes and leaves). */
  readonly inclRetainedBytes: number;
}

/**
 * What a set of bundles keeps reachable: the sum of the distinct ArrayBuffers
 * behind their byte arrays (a 32-byte hash that is a view into a larger
 * buffer keeps all of it alive). Diagnostic, untimed.
 */
function retainedBytes(arrays: Iterable<Uint8Array>): number {
  const seen = new Set<ArrayBufferLike>();
  let total = 0;
  for (const a of arrays) {
    if (seen.has(a.buffer)) continue;
    seen.add(a.buffer);
    total += a.buffer.byteLength;
  }
  return total;
}

async function runRound(ledger: Ledger, sizes: readonly number[], count: number, rng: Rng): Promise<Round> {
  const size = ledger.head().size;
  const seconds: Record<string, number> = {};
  const time = async (v: VariantId, fn: () => unknown): Promise<void> => {
    const start = performance.now();
    await fn();
    seconds[v] = (performance.now() - start) / 1000;
  };

  // Inclusion: random indexes, against the latest checkpoint.
  const indexes = Array.from({ length: count }, () => rng.int(0, size - 1));
  // Generation rows consume each result (count its hashes, as a server writes it out) and drop it, so
  // they do not time the GC cost of this bench holding 20k proofs; the verification rows check proofs
  // generated again, untimed, below.
  let out = 0;
  // The RFC 9162 audit path alone, as get-proof-by-hash serves it to a client holding the entry.
  await time('inclGen', async () => {
    for (let i = 0; i < count; i++) out += (await ledger.inclusionProof(indexes[i]!, size)).length;
  });
  // The bundle an auditor gets: the entry, the checkpoint and the path; the attribution (seal + path) is timed below.
  await time('inclBundle', async () => {
    for (let i = 0; i < count; i++) {
      const b = await ledger.proveInclusion(indexes[i]!, size, { attribution: false });
      out += b.inclusion.length + (b.leaf.length > 0 ? 1 : 0);
    }
  });
  let attributed = 0;
  await time('attrGen', async () => {
    for (let i = 0; i < count; i++) {
      const b = await ledger.proveInclusion(indexes[i]!, size);
      if (b.attribution !== undefined) attributed++;
    }
  });
  if (attributed < count / 2) throw new Error(`only ${attributed} of ${count} proofs were of events`);
  const incl: InclusionBundle[] = new Array(count);
  for (let i = 0; i < count; i++)
    incl[i] = await ledger.proveInclusion(indexes[i]!, size, { attribution: false });
  for (let i = 0; i < count; i += 97) {
    const path = await ledger.inclusionProof(indexes[i]!, size);
    if (path.map(toHex).join() !== incl[i]!.inclusion.map(toHex).join())
      throw new Error(`the audit path of ${indexes[i]} differs from its bundle's`);
  }
  await time('inclNode', () => {
    for (const b of incl) {
      if (
        !verifyInclusionNode({ index: b.index, size: b.size, leaf: b.leaf, proof: b.inclusion, root: b.root })
      )
        throw new Error(`inclusion proof of ${b.index} does not verify`);
    }
  });
  await time('inclJs', () => {
    for (const b of incl) {
      if (!verifyInclusion({ index: b.index, size: b.size, leaf: b.leaf, proof: b.inclusion, root: b.root }))
        throw new Error(`inclusion proof of ${b.index} does not verify (pure JS)`);
    }
  });
  const ci = countingHasher(nodeHasher);
  for (const b of incl)
    checkInclusion(ci.hasher, b.index, b.size, ci.hasher.leaf(b.leaf), b.inclusion, b.root);
  seconds.refIncl = hashLoop(ci.count(), sha256Node, incl[0]!.root);

  // Consistency: random pairs of block-ending sizes size1 < size2.
  const pairs = Array.from({ length: count }, () => {
    const a = rng.int(0, sizes.length - 2);
    const b = rng.int(a + 1, sizes.length - 1);
    return [sizes[a]!, sizes[b]!] as const;
  });
  await time('consGen', async () => {
    for (let i = 0; i < count; i++)
      out += (await ledger.proveConsistency(pairs[i]![0], pairs[i]![1])).consistency.length;
  });
  const cons: ConsistencyBundle[] = new Array(count);
  for (let i = 0; i < count; i++) cons[i] = await ledger.proveConsistency(pairs[i]![0], pairs[i]![1]);
  await time('consNode', () => {
    for (const b of cons) {
      const ok = verifyConsistencyNode({
        size1: b.size1,
        size2: b.size2,
        root1: b.root1,
        root2: b.root2,
        proof: b.consistency,
      });
      if (!ok) throw new Error(`consistency proof ${b.size1} → ${b.size2} does not verify`);
    }
  });
  await time('consJs', () => {
    for (const b of cons) {
      const ok = verifyConsistency({
        size1: b.size1,
        size2: b.size2,
        root1: b.root1,
        root2: b.root2,
        proof: b.consistency,
      });
      if (!ok) throw new Error(`consistency proof ${b.size1} → ${b.size2} does not verify (pure JS)`);
    }
  });
  const cc = countingHasher(nodeHasher);
  for (const b of cons) checkConsistency(cc.hasher, b.size1, b.size2, b.root1, b.root2, b.consistency);
  seconds.refCons = hashLoop(cc.count(), sha256Node, cons[0]!.root2);

  // The pure-JS rows' second reference: the same hash count with noble's SHA-256.
  seconds.inclJsRef = hashLoop(ci.count(), sha256Noble, incl[0]!.root);
  seconds.consJsRef = hashLoop(cc.count(), sha256Noble, cons[0]!.root2);
  if (out === 0) throw new Error('no proof hashes were generated');
  return {
    seconds,
    inclHashes: ci.count(),
    consHashes: cc.count(),
    avgInclProof: incl.reduce((a, b) => a + b.inclusion.length, 0) / count,
    avgConsProof: cons.reduce((a, b) => a + b.consistency.length, 0) / count,
    inclRetainedBytes: retainedBytes(incl.flatMap((b) => [b.leaf, ...b.inclusion])),
  };
}

export async function figureProofs(ctx: BenchContext): Promise<FigureResult> {
  const size = ctx.quick ? QUICK_SIZE : FULL_SIZE;
  const count = ctx.quick ? QUICK_PROOFS : FULL_PROOFS;
  const path = await tempDir('proofs');
  try {
    ctx.log(`figure 3: building a ledger of ${size.toLocaleString('en-US')} pre-signed records...`);
    const buildRss = new RssSampler();
    buildRss.start();
    const build = await buildBatchLedger(path, ctx.seed, size);
    const buildPeakRssMiB = buildRss.stop();
    const disk = await dirBytes(path);
    ctx.log(
      `  built in ${build.seconds.toFixed(1)} s (${Math.round(size / build.seconds).toLocaleString('en-US')} rec/s, ` +
        `signing ${(build.signMs / 1000).toFixed(1)} s of it); ${(disk / 1e6).toFixed(0)} MB on disk`,
    );
    const settleSeconds = await settle(path);
    ctx.log(`  compacted in ${settleSeconds.toFixed(1)} s (untimed)`);
    collectGarbage();
    const proofRss = new RssSampler();
    proofRss.start();
    const ledger = await openLedger(path);
    try {
      const sizes = blockSizes(ledger);
      if (sizes.length < 2) throw new Error('the proof ledger needs at least two blocks');
      const rng = new Rng(ctx.seed ^ 0x3f1a2b);
      ctx.log(`  warm-up round (${Math.ceil(count / 4)} proofs each)`);
      const warmup = await runRound(ledger, sizes, Math.ceil(count / 4), rng);
      collectGarbage();
      const rounds: Round[] = [];
      for (let r = 0; r < ctx.runs; r++) {
        const round = await runRound(ledger, sizes, count, rng);
        rounds.push(round);
        ctx.log(
          `  run ${r + 1}/${ctx.runs} ` +
            ORDER.map((v) => `${v} ${Math.round(count / round.seconds[v]!).toLocaleString('en-US')}/s`).join(
              ', ',
            ),
        );
        collectGarbage();
      }

      const proofsPeakRssMiB = proofRss.stop();
      const rate = (round: Round, v: VariantId | 'inclJsRef' | 'consJsRef'): number =>
        count / round.seconds[v]!;
      const rows: Row[] = ORDER.map((v) => {
        const js = v === 'inclJs' ? 'inclJsRef' : v === 'consJs' ? 'consJsRef' : undefined;
        const hashes = (round: Round): number =>
          REF_OF[v] === 'refIncl' ? round.inclHashes : round.consHashes;
        return {
          figure: '3',
          variant: LABELS[v],
          recordsPerSec: median(rounds.map((round) => rate(round, v))),
          ratio: median(rounds.map((round) => rate(round, v) / rate(round, REF_OF[v]))),
          ...(js === undefined
            ? {}
            : { ratio2: median(rounds.map((round) => rate(round, v) / rate(round, js))) }),
          extra: v.startsWith('ref')
            ? `${median(rounds.map((round) => (round.seconds[v] === undefined ? 0 : hashes(round) / round.seconds[v]!))).toLocaleString('en-US', { maximumFractionDigits: 0 })} hashes/s; ` +
              `${(median(rounds.map(hashes)) / count).toFixed(1)} hashes/proof`
            : v === 'inclGen'
              ? `avg ${median(rounds.map((round) => round.avgInclProof)).toFixed(1)} hashes/proof`
              : v === 'consGen'
                ? `avg ${median(rounds.map((round) => round.avgConsProof)).toFixed(1)} hashes/proof`
                : '',
        };
      });
      const notes = [
        `Log of about ${size.toLocaleString('en-US')} entries (genesis, then access-log events in batches of 64: ` +
          `one seal entry per 64 events; ${sizes.length} blocks, ${(disk / 1e6).toFixed(0)} MB), built once untimed at ` +
          `${Math.round(size / build.seconds).toLocaleString('en-US')} entries/s (pre-signed batches, ${BUILD_CALLERS} ` +
          `callers, durability buffered; peak RSS ${buildPeakRssMiB.toFixed(0)} MiB), then reopened read-only ` +
          `with openLedger after a full LevelDB compaction (untimed, ${settleSeconds.toFixed(1)} s: the state of a log at rest; right after the build, background compaction slows the first rounds); peak RSS while opening and proving/verifying: ${proofsPeakRssMiB.toFixed(0)} MiB ` +
          `(a round's ${count.toLocaleString('en-US')} inclusion bundles keep ` +
          `${(median(rounds.map((r) => r.inclRetainedBytes)) / MiB).toFixed(0)} MiB of buffers reachable). ` +
          'Subtree hashes of level ≥ 6 and right-edge range hashes are kept in memory once a proof has read ' +
          'them (SubtreeCache, ~0.5 byte per record), so generation after the warm-up reads about one or two ' +
          '8 KiB hash pages per proof, from LevelDB the first time and then from the store’s cache of pages ' +
          'proofs read (up to 8,192 pages, 64 MiB: every page of a 1M-entry log).',
        `${count.toLocaleString('en-US')} proofs of each kind per round, one at a time (generated proofs are consumed ` +
          'and dropped, as a server writes them out; the verified ones are generated again, untimed); median of ' +
          `${ctx.runs} rounds ` +
          `after a ${Math.ceil(count / 4).toLocaleString('en-US')}-proof warm-up round. Inclusion: random indexes ` +
          'against the latest checkpoint. Consistency: random pairs of block-ending sizes (size1 < size2); ' +
          'generation includes root1 (treeHash(size1)). Verified/s covers the Merkle check only (the leaf hash ' +
          'included); the checkpoint note signature is one per checkpoint and not part of it.',
        'ref: as many SHA-256 operations as that round’s verifications made (counted with a counting hasher, ' +
          'untimed), as a plain loop over 65-byte node pairs with node crypto, expressed as proofs/s; × ref = median ' +
          'over rounds of (rate ÷ that ref). For the pure-JS rows × ref 2 = the same against the same loop with ' +
          'noble SHA-256.',
      ];
      return {
        figure: '3',
        title: `Proofs at log size ${size.toLocaleString('en-US')}`,
        rows,
        notes,
        details: {
          size,
          count,
          blocks: sizes.length,
          diskBytes: disk,
          build,
          buildPeakRssMiB,
          settleSeconds,
          proofsPeakRssMiB,
          warmup,
          rounds,
        },
      };
    } finally {
      await ledger.close();
    }
  } finally {
    await removeDir(path);
  }
}
