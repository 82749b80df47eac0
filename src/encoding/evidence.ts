/**
 * Fork evidence, a published format like the proof bundles: two checkpoints,
 * each signed by the log's key, that cannot both be true. Anyone holding the
 * published key checks it offline (`verifyBundle`, `dirchain verify`,
 * `dist/verify.js`, the browser page). Of the same size, two roots are the
 * proof: one signed tree of a size cannot have two roots. Of different sizes,
 * `divergence` is: leaf `index` of each tree with its inclusion proof under
 * that checkpoint's root, the two leaves different, so the smaller tree is not
 * a prefix of the larger (RFC 9162 §2.1.4).
 *
 *   {"type":"dirchain-fork/v1","origin","checkpoint1","checkpoint2",
 *    "divergence"?:{"index","leaf1","proof1":[…],"leaf2","proof2":[…]},"source"?,"seenAt"?}
 *
 * Leaf hashes and proof hashes are base64. `source` (where checkpoint2 was
 * served) and `seenAt` (ISO 8601) are what the finder recorded; they are not
 * checked. Pure: no I/O.
 */
import { fromBase64, show, toBase64 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';

export const FORK_TYPE = 'dirchain-fork/v1';

export interface ForkEvidence {
  readonly origin: string;
  /** The signed note held before (a replica's own, a client's last seen). */
  readonly checkpoint1: string;
  /** The signed note that contradicts it. */
  readonly checkpoint2: string;
  /** Where two trees of different sizes disagree (needed when the sizes differ). */
  readonly divergence?: Divergence;
  readonly source?: string;
  readonly seenAt?: string;
}

/** Leaf `index` of tree 1 and of tree 2, each with its RFC 9162 inclusion proof in that tree. */
export interface Divergence {
  readonly index: number;
  readonly leaf1: Uint8Array;
  readonly proof1: readonly Uint8Array[];
  readonly leaf2: Uint8Array;
  readonly proof2: readonly Uint8Array[];
}

export interface ForkEvidenceJSON extends Omit<ForkEvidence, 'divergence'> {
  readonly type: typeof FORK_TYPE;
  readonly divergence?: {
    readonly index: number;
    readonly leaf1: string;
    readonly proof1: readonly string[];
    readonly leaf2: string;
    readonly proof2: readonly string[];
  };
}

export function forkEvidenceToJSON(e: ForkEvidence): ForkEvidenceJSON {
  const d = e.divergence;
  return {
    type: FORK_TYPE,
    origin: e.origin,
    checkpoint1: e.checkpoint1,
    checkpoint2: e.checkpoint2,
    ...(d === undefined
      ? {}
      : {
          divergence: {
            index: d.index,
            leaf1: toBase64(d.leaf1),
            proof1: d.proof1.map(toBase64),
            leaf2: toBase64(d.leaf2),
            proof2: d.proof2.map(toBase64),
          },
        }),
    ...(e.source === undefined ? {} : { source: e.source }),
    ...(e.seenAt === undefined ? {} : { seenAt: e.seenAt }),
  };
}

export function forkEvidenceFromJSON(o: Record<string, unknown>): ForkEvidence {
  if (o.type !== FORK_TYPE)
    fail(ErrorCode.DECODE, `fork evidence has type ${show(o.type)}, not ${FORK_TYPE}`);
  const text = (name: string, optional = false): string | undefined => {
    const v = o[name];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') fail(ErrorCode.DECODE, `fork evidence field "${name}" must be a string`);
    return v;
  };
  const source = text('source', true);
  const seenAt = text('seenAt', true);
  const divergence = o.divergence === undefined ? undefined : divergenceFromJSON(o.divergence);
  return {
    origin: text('origin')!,
    checkpoint1: text('checkpoint1')!,
    checkpoint2: text('checkpoint2')!,
    ...(divergence === undefined ? {} : { divergence }),
    ...(source === undefined ? {} : { source }),
    ...(seenAt === undefined ? {} : { seenAt }),
  };
}

function divergenceFromJSON(v: unknown): Divergence {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(ErrorCode.DECODE, 'fork evidence field "divergence" must be an object');
  const o = v as Record<string, unknown>;
  const bytes = (x: unknown, what: string): Uint8Array => {
    if (typeof x !== 'string') fail(ErrorCode.DECODE, `fork evidence ${what} must be base64`);
    try {
      return fromBase64(x);
    } catch {
      return fail(ErrorCode.DECODE, `fork evidence ${what} is not valid base64`);
    }
  };
  const list = (name: string): Uint8Array[] => {
    const l = o[name];
    if (!Array.isArray(l)) fail(ErrorCode.DECODE, `fork evidence divergence.${name} must be a list`);
    return Array.from(l as unknown[], (x, i) => bytes(x, `divergence.${name}[${i}]`));
  };
  if (!Number.isSafeInteger(o.index) || (o.index as number) < 0)
    fail(ErrorCode.DECODE, 'fork evidence divergence.index must be a non-negative integer');
  return {
    index: o.index as number,
    leaf1: bytes(o.leaf1, 'divergence.leaf1'),
    proof1: list('proof1'),
    leaf2: bytes(o.leaf2, 'divergence.leaf2'),
    proof2: list('proof2'),
  };
}

export const REPLAY_TYPE = 'dirchain-replay/v1';

/**
 * A block the log signed whose replay its own rules refuse: the signed note,
 * the block's entries (which the note's root commits to), and the first
 * refusal. It needs the state before the block to check, so it is checked
 * against a replica at the block before (`dirchain verify --replica`).
 *
 *   {"type":"dirchain-replay/v1","origin","height","note","entries":[base64…],"index","code","message","source"?,"seenAt"?}
 */
export interface ReplayEvidence {
  readonly origin: string;
  readonly height: number;
  readonly note: string;
  readonly entries: readonly Uint8Array[];
  /** The log index of the first entry the replay refused, and the refusal. */
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly source?: string;
  readonly seenAt?: string;
}

export function replayEvidenceToJSON(e: ReplayEvidence): Record<string, unknown> {
  return {
    type: REPLAY_TYPE,
    origin: e.origin,
    height: e.height,
    note: e.note,
    entries: e.entries.map(toBase64),
    index: e.index,
    code: e.code,
    message: e.message,
    ...(e.source === undefined ? {} : { source: e.source }),
    ...(e.seenAt === undefined ? {} : { seenAt: e.seenAt }),
  };
}

export function replayEvidenceFromJSON(o: Record<string, unknown>): ReplayEvidence {
  if (o.type !== REPLAY_TYPE)
    fail(ErrorCode.DECODE, `replay evidence has type ${show(o.type)}, not ${REPLAY_TYPE}`);
  const str = (name: string): string => {
    if (typeof o[name] !== 'string')
      fail(ErrorCode.DECODE, `replay evidence field "${name}" must be a string`);
    return o[name] as string;
  };
  const count = (name: string): number => {
    if (!Number.isSafeInteger(o[name]) || (o[name] as number) < 0)
      fail(ErrorCode.DECODE, `replay evidence field "${name}" must be a non-negative integer`);
    return o[name] as number;
  };
  if (!Array.isArray(o.entries)) fail(ErrorCode.DECODE, 'replay evidence field "entries" must be a list');
  const entries = Array.from(o.entries as unknown[], (v, i) => {
    if (typeof v !== 'string') fail(ErrorCode.DECODE, `replay evidence entries[${i}] must be base64`);
    try {
      return fromBase64(v);
    } catch {
      return fail(ErrorCode.DECODE, `replay evidence entries[${i}] is not valid base64`);
    }
  });
  return {
    origin: str('origin'),
    height: count('height'),
    note: str('note'),
    entries,
    index: count('index'),
    code: str('code'),
    message: str('message'),
    ...(typeof o.source === 'string' ? { source: o.source } : {}),
    ...(typeof o.seenAt === 'string' ? { seenAt: o.seenAt } : {}),
  };
}
