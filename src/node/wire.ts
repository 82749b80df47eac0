/**
 * The node's HTTP API as a format (docs/http-api.md): paths, content types,
 * body shapes and the error body, shared by the server (node/service.ts) and
 * the client (node/client.ts) so the two cannot drift apart. No I/O.
 */
import { equalBytes, fromBase64, toBase64 } from '../crypto/bytes.js';
import { sha256Node } from '../crypto/node-crypto.js';
import { type DirchainError, ErrorCode, type ErrorCodeValue, fail } from '../errors.js';
import type { EntityType } from '../policy/entities.js';
import { decodeStatus } from '../state/status.js';
import { encodeEntity } from '../storage/state-table.js';

/** Where the node's own API lives; the C2SP tlog-tiles paths stay at the root as `serve` has them. */
export const API = 'dirchain/v1/';

export const PATHS = {
  /** POST one signed record. */
  record: `${API}records`,
  /** POST many signed records, appended in order, each answered alone. */
  records: `${API}records/many`,
  /** POST one batch: its seal, then its events. */
  batch: `${API}batches`,
  /** GET ?index=N[&size=S] or ?leaf=<hex leaf hash>[&size=S]: an inclusion bundle. */
  inclusion: `${API}proofs/inclusion`,
  /** GET ?size1=A[&size2=B]: a consistency bundle. */
  consistency: `${API}proofs/consistency`,
  /** GET ?type=T&id=X[&size=S]: a status bundle (dirchain-status/v1). */
  status: `${API}proofs/status`,
  /** POST {"method","args"}: a directory query whose items carry inclusion proofs. */
  query: `${API}query`,
  /** GET: the latest checkpoint with the witness cosignatures the node collected (404 before the first). */
  cosigned: `${API}checkpoint/cosigned`,
  /** GET: 200 once the node accepts submissions, 503 while it starts or stops (no signature needed). */
  ready: `${API}ready`,
  /** GET: Prometheus text format (no signature needed; see --metrics-listen). */
  metrics: 'metrics',
} as const;

export const JSON_TYPE = 'application/json';
/** A signed record's exact bytes, or an entry bundle (uint16 BE length + bytes, C2SP tlog-tiles). */
export const BINARY_TYPE = 'application/octet-stream';

/** Largest request body the node reads (bytes); a larger one is 413 E_TOO_LARGE, unread. */
export const DEFAULT_MAX_BODY = 16 * 1024 * 1024;

/** The queries a node answers, with how many arguments each takes at most (page options last). */
export const QUERY_METHODS = {
  get: 2,
  searchResources: 2,
  resourcesOf: 2,
  resourceHistory: 2,
  activeGrants: 3,
  grantsOfResource: 2,
  grantsOfScenario: 2,
  accessLogs: 2,
  accessLogsOfResource: 2,
  openRequests: 2,
  recordsByKind: 2,
} as const;

export type QueryMethod = keyof typeof QUERY_METHODS;

export const isQueryMethod = (m: unknown): m is QueryMethod =>
  typeof m === 'string' && Object.hasOwn(QUERY_METHODS, m);

/** What a refusal looks like on the wire, whatever the status. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly index?: number;
}

/**
 * The HTTP status of a refusal, by code: the request was wrong (400), too big
 * (413), not signed or not by a member (401/403), replayed (401), refused by
 * the ledger's rules (422: well-formed, but not admissible now), not there
 * (404), or the node could not take it now (503). Anything else is 500.
 */
export function statusOf(code: string): number {
  switch (code) {
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.DECODE:
    case ErrorCode.SCHEMA:
    case ErrorCode.WRONG_ORIGIN:
    case ErrorCode.BATCH_MISMATCH:
      return 400;
    case ErrorCode.TOO_LARGE:
      return 413;
    case ErrorCode.CONTENT_TYPE:
      return 415;
    case ErrorCode.UNAUTHENTICATED:
    case ErrorCode.REPLAYED:
      return 401;
    case ErrorCode.METHOD_NOT_ALLOWED:
      return 405;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.LEDGER_NOT_FOUND:
      return 404;
    case ErrorCode.UNAVAILABLE:
    case ErrorCode.LEDGER_CLOSED:
      return 503;
    case ErrorCode.READ_ONLY:
      return 403;
    case ErrorCode.INTERNAL:
    case ErrorCode.STORAGE:
    case ErrorCode.LEDGER_CORRUPT:
    case ErrorCode.LEDGER_FORMAT:
      return 500;
    default:
      // The ledger's rules: E_BAD_SIGNATURE, E_UNKNOWN_MEMBER, E_NOT_AUTHORIZED, E_CLOCK_SKEW, ...
      return 422;
  }
}

export function errorBody(e: DirchainError): ErrorBody {
  return {
    code: e.code,
    message: e.message,
    ...(e.hint === undefined ? {} : { hint: e.hint }),
    ...(e.index === undefined ? {} : { index: e.index }),
  };
}

/** Reads an error body a node sent; anything else is E_REMOTE naming the status. */
export function parseErrorBody(status: number, body: unknown): ErrorBody {
  const o = body as Partial<ErrorBody> | null;
  if (typeof o === 'object' && o !== null && typeof o.code === 'string' && /^E_[A-Z_]+$/.test(o.code)) {
    return {
      code: o.code,
      message: typeof o.message === 'string' ? o.message : `HTTP ${status}`,
      ...(typeof o.hint === 'string' ? { hint: o.hint } : {}),
      ...(Number.isSafeInteger(o.index) ? { index: o.index as number } : {}),
    };
  }
  return { code: ErrorCode.REMOTE, message: `the node answered HTTP ${status} without an error body` };
}

/** Codes a client may see from a node; an unknown one becomes E_REMOTE. */
export function knownCode(code: string): ErrorCodeValue {
  return (Object.values(ErrorCode) as string[]).includes(code) ? (code as ErrorCodeValue) : ErrorCode.REMOTE;
}

// ---- bodies ---------------------------------------------------------------------------------

/** `POST records` (JSON form): one signed record. */
export interface RecordRequest {
  readonly entry: string;
}
/** `POST records/many` (JSON form). */
export interface RecordsRequest {
  readonly entries: readonly string[];
}
/** `POST batches` (JSON form). */
export interface BatchRequest {
  readonly seal: string;
  readonly events: readonly string[];
}

/** `POST records/many` answer: per entry, in order, a receipt or a refusal. */
export interface ManyAnswer {
  readonly results: ReadonlyArray<{ index: number; height: number } | ErrorBody>;
}

/** `POST query` request. */
export interface QueryRequest {
  readonly method: QueryMethod;
  readonly args: readonly unknown[];
}

/** The proof of one item of a query answer: its record's entry and path at the answer's checkpoint. */
export interface ItemProof {
  readonly index: number;
  /** base64 of the exact entry bytes. */
  readonly leaf: string;
  /** base64 RFC 9162 inclusion path at the answer's checkpoint. */
  readonly inclusion: readonly string[];
  /** For an event: the seal that signs it (as in an inclusion bundle's `attribution`). */
  readonly attribution?: Readonly<Record<string, unknown>>;
}

/** `POST query` answer: the checkpoint every proof leads to, the result, and one proof per item. */
export interface QueryAnswer {
  readonly checkpoint: string;
  /** A page (`{items, cursor?}`) or, for `get`, `{item}` (null when there is none). */
  readonly result: unknown;
  readonly proofs: readonly ItemProof[];
  /** For `get`: the entity's status bundle (`dirchain-status/v1`) at the same checkpoint. */
  readonly status?: Readonly<Record<string, unknown>>;
}

/**
 * Whether an entity as a query read it is the one a status proof commits to
 * (the value's bytes, or null: not in the map): absent in both, or the
 * entity's canonical encoding hashes to the value's `entity` digest — every
 * field, not only its status (a member's keys, a grant's fields).
 */
export function statusAgrees(type: string, item: unknown, value: Uint8Array | null): boolean {
  if (item === undefined || item === null) return value === null;
  if (value === null) return false;
  const v = decodeStatus(value);
  let digest: Uint8Array;
  try {
    digest = sha256Node(encodeEntity(type as EntityType, item as never));
  } catch {
    // Not an entity of that type at all (a field of the wrong kind): it agrees with nothing.
    return false;
  }
  return v.type === type && v.id === (item as { id?: unknown }).id && equalBytes(digest, v.entity);
}

/** Decodes a list of base64 strings, naming the field on failure (E_DECODE). */
export function bytesList(v: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(v)) fail(ErrorCode.DECODE, `"${field}" must be a list of base64 strings`);
  return Array.from(v, (s, i) => bytesOf(s, `${field}[${i}]`));
}

export function bytesOf(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string') fail(ErrorCode.DECODE, `"${field}" must be a base64 string`);
  try {
    return fromBase64(v);
  } catch {
    return fail(ErrorCode.DECODE, `"${field}" is not valid base64`);
  }
}

export const b64 = toBase64;

/**
 * JSON with bytes: a Uint8Array is written as {"$base64": "..."} (entities
 * carry keys), and read back by {@link reviveBytes}.
 */
export function jsonWithBytes(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? { $base64: toBase64(v) } : v));
}

export function reviveBytes(_k: string, v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const s = (v as { $base64?: unknown }).$base64;
    if (keys.length === 1 && typeof s === 'string') return fromBase64(s);
  }
  return v;
}
