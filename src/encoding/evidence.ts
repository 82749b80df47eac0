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
import { show } from '../crypto/bytes.js';
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
