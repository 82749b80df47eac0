/**
 * Block headers as C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint):
 *
 *   <origin>\n<tree size>\n<base64 root>\n
 *   block <height>\nprev <base64 leaf hash of the previous block entry>\ntime <ms>\n
 *
 * The first three lines are the standard checkpoint, so any tlog client reads
 * them. The extension lines repeat the block entry that ends the block
 * (block-entry.ts) for convenience: no cosigner vouches for them (C2SP
 * tlog-cosignature), so what a block commits to is the block entry inside the
 * tree, and a verifier compares the two. Pure formatting and parsing.
 */
import {
  checkArray,
  checkBytes,
  checkObject,
  checkString,
  fromBase64,
  show,
  toBase64,
} from '../crypto/bytes.js';
import { parseNote } from '../crypto/note.js';
import { ErrorCode, fail } from '../errors.js';

export const HASH_LENGTH = 32;

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** Extension lines, in order, without their newlines. */
  readonly extensions: readonly string[];
}

export interface BlockHeader {
  readonly origin: string;
  /** Tree size after this block. */
  readonly size: number;
  readonly root: Uint8Array;
  /** Block height; the genesis block is 0. */
  readonly height: number;
  /** Leaf hash of the previous block's block entry (32 zero bytes for genesis): a copy of the block entry's `prev`. */
  readonly prev: Uint8Array;
  /** Block time, milliseconds since the Unix epoch. */
  readonly time: number;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function decimal(text: string, what: string): number {
  if (!DECIMAL.test(text)) fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint ${what} is not a decimal number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint ${what} is too large`);
  return n;
}

function hash(text: string, what: string): Uint8Array {
  let h: Uint8Array;
  try {
    h = fromBase64(text);
  } catch {
    return fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint ${what} is not valid base64`);
  }
  if (h.length !== HASH_LENGTH)
    fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint ${what} is not a 32-byte hash`);
  return h;
}

/** A line of checkpoint text: non-empty, no newline (else the text would not parse back). */
function checkLine(line: unknown, what: string): asserts line is string {
  checkString(line, what);
  if (line.length === 0 || line.includes('\n'))
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be one non-empty line, got ${show(line)}`);
}

export function formatCheckpoint(c: Checkpoint): string {
  checkObject(c, 'checkpoint');
  checkLine(c.origin, 'checkpoint origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `checkpoint size: expected a non-negative integer, got ${show(c.size)}`);
  checkBytes(c.root, 'checkpoint root');
  if (c.root.length !== HASH_LENGTH)
    fail(ErrorCode.INVALID_ARGUMENT, `checkpoint root: expected ${HASH_LENGTH} bytes, got ${c.root.length}`);
  checkArray(c.extensions, 'checkpoint extensions');
  for (const e of c.extensions) checkLine(e, 'checkpoint extension');
  let text = `${c.origin}\n${c.size}\n${toBase64(c.root)}\n`;
  for (const e of c.extensions) text += `${e}\n`;
  return text;
}

export function parseCheckpoint(text: string): Checkpoint {
  checkString(text, 'checkpoint text');
  if (!text.endsWith('\n')) fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint needs origin, size and root lines');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint origin is empty');
  if (extensions.some((e) => e.length === 0))
    fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint has an empty line');
  return { origin, size: decimal(size, 'size'), root: hash(root, 'root'), extensions };
}

export function formatBlockHeader(b: BlockHeader): string {
  return formatCheckpoint({
    origin: b.origin,
    size: b.size,
    root: b.root,
    extensions: [`block ${b.height}`, `prev ${toBase64(b.prev)}`, `time ${b.time}`],
  });
}

export function parseBlockHeader(text: string): BlockHeader {
  const c = parseCheckpoint(text);
  const [block, prev, time, ...rest] = c.extensions;
  if (block === undefined || !block.startsWith('block ')) {
    fail(
      ErrorCode.CHECKPOINT_INVALID,
      'checkpoint has no "block <height>" line; it is not a dirchain block header',
    );
  }
  if (prev === undefined || !prev.startsWith('prev '))
    fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint has no "prev" line');
  if (time === undefined || !time.startsWith('time '))
    fail(ErrorCode.CHECKPOINT_INVALID, 'checkpoint has no "time" line');
  if (rest.length > 0)
    fail(ErrorCode.CHECKPOINT_INVALID, `checkpoint has unknown extension line ${JSON.stringify(rest[0])}`);
  return {
    origin: c.origin,
    size: c.size,
    root: c.root,
    height: decimal(block.slice(6), 'block height'),
    prev: hash(prev.slice(5), 'prev hash'),
    time: decimal(time.slice(5), 'time'),
  };
}

/** The block header a signed note carries, and the note's text (signatures not checked). */
export function blockHeaderOfNote(note: string): { header: BlockHeader; text: string } {
  const { text } = parseNote(note);
  return { header: parseBlockHeader(text), text };
}
