/**
 * Publishes a ledger as static C2SP tlog-tiles objects (https://c2sp.org/tlog-tiles)
 * on S3-compatible object storage or in a folder, so that any HTTP server of
 * files serves what `serve` serves (node/serve.ts): the checkpoint, hash tiles,
 * entry bundles and dirchain's block-note bundles, under the same paths and with
 * the same Content-Type and Cache-Control. A follower then needs only the
 * bucket's (or the folder's) HTTP address.
 *
 * Incremental: the checkpoint already at the target says what is published;
 * only the objects a newer tree adds or widens are uploaded (the full tiles
 * completed since, and the partial ones the new size implies), then the
 * checkpoint, last, so a reader never sees a checkpoint whose tiles are
 * missing. Nothing is ever deleted: a partial tile of an older size stays
 * (tlog-tiles "Partial Tiles": logs MAY delete them, none need to).
 *
 * Nothing is published that the source's signed checkpoint does not vouch
 * for: the checkpoint must verify under the pinned key, the tiles must hash to
 * its root, every uploaded level-0 tile must list its entries' leaf hashes,
 * every uploaded full tile must fold to its hash in the tile above, every block
 * note must verify; and a checkpoint already at the target must be one this
 * log signed and a prefix of the new one (RFC 9162 §2.1.4.2), so publishing
 * never rolls the target back nor replaces its tree with a fork.
 */
import { equalBytes, utf8 } from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type NoteVerifier, parseNote } from '../crypto/note.js';
import type { MemberSigner } from '../directory/submitter.js';
import type { BlockHeader } from '../encoding/checkpoint.js';
import { ErrorCode, fail } from '../errors.js';
import { checkConsistency } from '../merkle/check.js';
import { proveConsistency, treeHash } from '../merkle/prove.js';
import { ENTRIES_LEVEL, TILE_HEIGHT, TILE_WIDTH, tilePath } from '../merkle/tiles.js';
import {
  blockBundlePath,
  checkBlockBundle,
  checkedLength,
  checkFold,
  checkLeaves,
  openSource,
  pinnedKey,
  type Source,
  SourceTiles,
  safeUtf8,
  signedHeader,
} from './publish-source.js';
import { openTarget, parseTarget, type Target, type TargetOptions } from './publish-target.js';

export interface PublishOptions extends TargetOptions {
  /**
   * The published sequencer verifier key to pin (`<origin>+<hash>+<base64>`).
   * Required for a URL source; for a folder, the ledger's own key (from its
   * genesis) is used, and a key given must be that one.
   */
  readonly verifierKey?: string;
  /** A URL source: sign every request as this member (a node that is not public serves members only). */
  readonly as?: MemberSigner;
  /** Objects read and uploaded at once (default 8). */
  readonly concurrency?: number;
  /** After each object uploaded; `total` counts the checkpoint too. */
  readonly onProgress?: (p: { uploaded: number; bytes: number; total: number }) => void;
}

export interface PublishReport {
  readonly origin: string;
  /** The tree size and block height of the checkpoint now published. */
  readonly size: number;
  readonly height: number;
  /** The tree size published before, if the target held a checkpoint. */
  readonly previousSize: number | undefined;
  /** Objects uploaded (the checkpoint included) and their bytes. */
  readonly uploaded: number;
  readonly bytes: number;
  /** Objects the published checkpoint needs that were at the target already. */
  readonly skipped: number;
  /** Where it went: `s3://bucket/prefix/` or the folder. */
  readonly target: string;
  /** The HTTP address a follower reads an S3 target from (anonymous GETs must be allowed there). */
  readonly url: string | undefined;
}

const hasher = nodeTreeHasher;
/** As node/serve.ts sends them: tlog-tiles asks long-lived caching of what never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'no-cache';
const OCTETS = 'application/octet-stream';
const TEXT = 'text/plain; charset=utf-8';
const cacheOf = (width: number): string => (width === TILE_WIDTH ? IMMUTABLE : NO_CACHE);

/**
 * Publishes the ledger at `source` (a ledger folder, opened read-only, or the
 * URL of a node or `serve`) to `target` (`s3://bucket/prefix` or a folder).
 * Rejects with E_INVALID_ARGUMENT (bad input), E_REMOTE (the source or the
 * store failed), E_STORAGE (a folder target could not be written),
 * E_CHECKPOINT_INVALID (a checkpoint that does not verify, or a target that
 * is ahead of the source), E_FORK (the target holds a tree the source's does
 * not extend) or E_LEDGER_CORRUPT (the source's objects disagree with its
 * checkpoint). The target's checkpoint is then unchanged: objects uploaded
 * before the failure are named by no checkpoint yet.
 */
export async function publish(
  source: string,
  target: string,
  options: PublishOptions = {},
): Promise<PublishReport> {
  if (typeof source !== 'string' || source === '')
    fail(ErrorCode.INVALID_ARGUMENT, 'publish needs a source: a ledger folder or the URL of a served ledger');
  const where = parseTarget(target, options);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 256)
    fail(ErrorCode.INVALID_ARGUMENT, `concurrency: expected 1..256, got ${String(concurrency)}`);
  const isUrl = /^https?:\/\//i.test(source);
  if (isUrl && options.verifierKey === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, `publishing from ${source} needs the ledger's verifier key to pin`, {
      hint: 'give the sequencer.pub its init wrote: the server is never asked which key to trust',
    });
  const src = await openSource(source, options);
  try {
    const pinned = pinnedKey(src.key ?? options.verifierKey!);
    if (src.key !== undefined && options.verifierKey !== undefined) {
      const given = pinnedKey(options.verifierKey);
      if (given.name !== pinned.name || !equalBytes(given.publicKey, pinned.publicKey))
        fail(ErrorCode.KEY_INVALID, `${source} is the ledger of key ${src.key}, not of the key given`);
    }
    const dst = await openTarget(where, options);
    try {
      return await publishTo(src, dst, pinned, concurrency, options);
    } finally {
      dst.close();
    }
  } finally {
    await src.close();
  }
}

/** The width object `n` of a sequence of `count1` items has, if it differs from the one it had at `count0`. */
function newWidth(n: number, count0: number, count1: number): number {
  const at = (count: number) => Math.max(0, Math.min(TILE_WIDTH, count - n * TILE_WIDTH));
  return at(count1) === at(count0) ? 0 : at(count1);
}

/** Objects `n` (from the first not full at `count0`) that changed between the two counts. */
function changed(count0: number, count1: number): Array<{ n: number; width: number }> {
  const out: Array<{ n: number; width: number }> = [];
  for (let n = Math.floor(count0 / TILE_WIDTH); n * TILE_WIDTH < count1; n++) {
    const width = newWidth(n, count0, count1);
    if (width > 0) out.push({ n, width });
  }
  return out;
}

/** Every object a checkpoint of `size` entries and `blocks` blocks needs: tiles of every level, entry and block bundles. */
function objectCount(size: number, blocks: number): number {
  const bundles = (count: number) => Math.ceil(count / TILE_WIDTH);
  let total = bundles(size) + bundles(blocks);
  for (let level = 0; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++)
    total += bundles(Math.floor(size / 2 ** (TILE_HEIGHT * level)));
  return total;
}

async function publishTo(
  src: Source,
  dst: Target,
  pinned: NoteVerifier,
  concurrency: number,
  options: PublishOptions,
): Promise<PublishReport> {
  const head = signedHeader(src.note, pinned, `the checkpoint of ${src.name}`);
  const { size, height } = head.header;
  const tiles = new SourceTiles(src, size);
  const publishedNote = await dst.read('checkpoint');
  let before: { header: BlockHeader; text: string } | undefined;
  if (publishedNote !== undefined) {
    const note = publishedNote.length === 0 ? '' : safeUtf8(publishedNote);
    before = signedHeader(note, pinned, `the checkpoint at ${dst.name}`);
    const was = before.header;
    if (was.size > size || was.height > height)
      fail(
        ErrorCode.CHECKPOINT_INVALID,
        `the checkpoint at ${dst.name} (tree size ${was.size}, block ${was.height}) is newer than ${src.name}'s (tree size ${size}, block ${height}): publishing would roll it back`,
        { hint: 'publish from the ledger, or a node, that is at least as far along as what is published' },
      );
  }
  // Read before anything is uploaded: every tile on the root's path must hash to the signed root.
  if (!equalBytes(await treeHash(hasher, tiles, size), head.header.root))
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `the hash tiles of ${src.name} do not hash to the root its checkpoint signs (tree size ${size})`,
      { hint: 'the source is damaged or serves tiles of another tree: publish from another one' },
    );
  if (before !== undefined) await checkExtends(src, tiles, dst, before, head, pinned);

  const blocks = height + 1;
  const total = objectCount(size, blocks);
  const was = before?.header;
  if (before !== undefined && before.text === head.text) return report(head.header, was, 0, 0, total, dst);

  const sizeBefore = was?.size ?? 0;
  const blocksBefore = was === undefined ? 0 : was.height + 1;
  let uploaded = 0;
  let bytes = 0;
  let planned = 0;
  const jobs: Array<() => Promise<void>> = [];
  const put = async (path: string, body: Uint8Array, type: string, cache: string) => {
    await dst.write(path, body, type, cache);
    uploaded++;
    bytes += body.length;
    options.onProgress?.({ uploaded, bytes, total: planned + 1 });
  };
  // Hash tiles above level 0: few, and read through `tiles`, which keeps them for the checks below them.
  for (let level = 1; Math.floor(size / 2 ** (TILE_HEIGHT * level)) > 0; level++) {
    const span = 2 ** (TILE_HEIGHT * level);
    for (const { n, width } of changed(Math.floor(sizeBefore / span), Math.floor(size / span))) {
      planned++;
      jobs.push(async () => {
        const data = await tiles.tile(level, n);
        if (width === TILE_WIDTH) await checkFold(tiles, level, n, data);
        await put(tilePath({ level, n, width }), data, OCTETS, cacheOf(width));
      });
    }
  }
  for (const { n, width } of changed(blocksBefore, blocks)) {
    planned++;
    jobs.push(async () => {
      const bundle = await src.blockBundle(n, width);
      checkBlockBundle(bundle, n, width, head, pinned, src);
      await put(blockBundlePath(n, width), bundle, OCTETS, cacheOf(width));
    });
  }
  // Level-0 tile n and entry bundle n always have the same width: read, checked and uploaded together.
  for (const { n, width } of changed(sizeBefore, size)) {
    planned += 2;
    jobs.push(async () => {
      const [entries, tile] = await Promise.all([
        src.entryBundle(n, width),
        src.hashTile(0, n, width).then((t) => checkedLength(t, tilePath({ level: 0, n, width }), width, src)),
      ]);
      checkLeaves(entries, tile, n, width, src);
      if (width === TILE_WIDTH) await checkFold(tiles, 0, n, tile);
      await put(tilePath({ level: ENTRIES_LEVEL, n, width }), entries, OCTETS, cacheOf(width));
      await put(tilePath({ level: 0, n, width }), tile, OCTETS, cacheOf(width));
    });
  }
  await runAll(jobs, concurrency);
  // Last: a reader that sees this checkpoint finds every object it needs.
  await put('checkpoint', utf8(src.note), TEXT, NO_CACHE);
  return report(head.header, was, uploaded, bytes, total - (uploaded - 1), dst);
}

function report(
  header: BlockHeader,
  was: BlockHeader | undefined,
  uploaded: number,
  bytes: number,
  skipped: number,
  dst: Target,
): PublishReport {
  return {
    origin: header.origin,
    size: header.size,
    height: header.height,
    previousSize: was?.size,
    uploaded,
    bytes,
    skipped,
    target: dst.name,
    url: dst.url,
  };
}

/**
 * The published checkpoint must be the source's own note of that block (two
 * different notes the key signed for one block are a fork), and the
 * published tree a prefix of the source's (RFC 9162 §2.1.4.2, a consistency
 * proof made from the source's tiles and checked against both signed roots).
 */
async function checkExtends(
  src: Source,
  tiles: SourceTiles,
  dst: Target,
  before: { header: BlockHeader; text: string },
  head: { header: BlockHeader; text: string },
  pinned: NoteVerifier,
): Promise<void> {
  const was = before.header;
  const now = head.header;
  const n = Math.floor(was.height / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, now.height + 1 - n * TILE_WIDTH);
  const bundle = await src.blockBundle(n, width);
  const notes = checkBlockBundle(bundle, n, width, head, pinned, src);
  if (parseNote(notes[was.height - n * TILE_WIDTH]!).text !== before.text)
    fail(
      ErrorCode.FORK,
      `the log forked: the checkpoint at ${dst.name} (tree size ${was.size}) and ${src.name}'s note of the same block ${was.height} (tree size ${now.size} now) are different notes signed by ${pinned.name}`,
      { hint: 'keep both signed notes as evidence; do not publish over it' },
    );
  const proof = await proveConsistency(hasher, tiles, was.size, now.size);
  if (!checkConsistency(hasher, was.size, now.size, was.root, now.root, proof))
    fail(
      ErrorCode.FORK,
      `${src.name}'s tree (size ${now.size}) does not extend the one published at ${dst.name} (size ${was.size}): both are signed by ${pinned.name}`,
      { hint: 'keep both signed checkpoints as evidence; do not publish over it' },
    );
}

/** Runs `jobs`, `concurrency` at a time; after a failure starts no more, waits for those running, and throws it. */
async function runAll(jobs: ReadonlyArray<() => Promise<void>>, concurrency: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < jobs.length) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
