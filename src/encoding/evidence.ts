/**
 * Fork evidence, a published format like the proof bundles: two checkpoints,
 * each signed by the log's key, that cannot both be true. Anyone holding the
 * published key checks it offline (`verifyBundle`, `dirchain verify`,
 * `dist/verify.js`, the browser page): one signed tree of a size cannot have
 * two roots.
 *
 *   {"type":"dirchain-fork/v1","origin","checkpoint1","checkpoint2","source"?,"seenAt"?}
 *
 * `source` (where checkpoint2 was served) and `seenAt` (ISO 8601) are what the
 * finder recorded; they are not checked. Pure: no I/O.
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
  readonly source?: string;
  readonly seenAt?: string;
}

export interface ForkEvidenceJSON extends ForkEvidence {
  readonly type: typeof FORK_TYPE;
}

export function forkEvidenceToJSON(e: ForkEvidence): ForkEvidenceJSON {
  return {
    type: FORK_TYPE,
    origin: e.origin,
    checkpoint1: e.checkpoint1,
    checkpoint2: e.checkpoint2,
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
  return {
    origin: text('origin')!,
    checkpoint1: text('checkpoint1')!,
    checkpoint2: text('checkpoint2')!,
    ...(source === undefined ? {} : { source }),
    ...(seenAt === undefined ? {} : { seenAt }),
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
