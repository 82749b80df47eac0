/**
 * Every failure dirchain reports is a {@link DirchainError} with a stable `code`
 * that callers branch on; the message is for people and may change.
 */

/** Stable error codes. Never renumber or rename: scripts branch on them. */
export const ErrorCode = {
  /** A function argument is out of range or of the wrong shape. */
  INVALID_ARGUMENT: 'E_INVALID_ARGUMENT',
  /** Bytes are not a well-formed record, note, key or bundle. */
  DECODE: 'E_DECODE',
  /** A record decoded but its fields do not match the schema of its kind. */
  SCHEMA: 'E_SCHEMA',
  /** A log entry is larger than 65,535 bytes (the tlog-tiles limit). */
  TOO_LARGE: 'E_TOO_LARGE',
  /** A signature does not verify. */
  BAD_SIGNATURE: 'E_BAD_SIGNATURE',
  /** The record's origin is not this ledger's origin. */
  WRONG_ORIGIN: 'E_WRONG_ORIGIN',
  /** The author is not a member of this ledger. */
  UNKNOWN_MEMBER: 'E_UNKNOWN_MEMBER',
  /** The author has no such key, or the key was rotated out. */
  UNKNOWN_KEY: 'E_UNKNOWN_KEY',
  /** The member may not write this record. */
  NOT_AUTHORIZED: 'E_NOT_AUTHORIZED',
  /** The author (or a member the record names) is suspended or removed. */
  MEMBER_INACTIVE: 'E_MEMBER_INACTIVE',
  /** Governance needs more admin approvals (m-of-n quorum), or would leave too few admins. */
  QUORUM: 'E_QUORUM',
  /** These exact record bytes are already in the log. */
  DUPLICATE: 'E_DUPLICATE',
  /** Governance terms were made for an earlier state of their member: propose again. */
  STALE_TERMS: 'E_STALE_TERMS',
  /** A bug in dirchain: the record was refused rather than risk a wrong verdict. Please report it. */
  INTERNAL: 'E_INTERNAL',
  /** An id is already taken. */
  DUPLICATE_ID: 'E_DUPLICATE_ID',
  /** No such resource. */
  UNKNOWN_RESOURCE: 'E_UNKNOWN_RESOURCE',
  /** No such scenario. */
  UNKNOWN_SCENARIO: 'E_UNKNOWN_SCENARIO',
  /** No such need-list request. */
  UNKNOWN_REQUEST: 'E_UNKNOWN_REQUEST',
  /** No such grant. */
  UNKNOWN_GRANT: 'E_UNKNOWN_GRANT',
  /** The resource is retired: no new grants, requests or access logs. */
  RESOURCE_RETIRED: 'E_RESOURCE_RETIRED',
  /** The resource's sharing type is "none". */
  NOT_SHARED: 'E_NOT_SHARED',
  /** Conditional sharing needs an open need-list request from the consumer. */
  REQUEST_REQUIRED: 'E_REQUEST_REQUIRED',
  /** The need-list request is no longer open. */
  REQUEST_NOT_OPEN: 'E_REQUEST_NOT_OPEN',
  /** Granting level-4 fields needs an admin's countersignature. */
  COUNTERSIGNATURE_REQUIRED: 'E_COUNTERSIGNATURE_REQUIRED',
  /** A field is not one of the resource's current fields. */
  FIELD_UNKNOWN: 'E_FIELD_UNKNOWN',
  /** An access log names a field the grant does not cover. */
  FIELD_NOT_GRANTED: 'E_FIELD_NOT_GRANTED',
  /** The grant was revoked. */
  GRANT_REVOKED: 'E_GRANT_REVOKED',
  /** The grant's validity window has ended. */
  GRANT_EXPIRED: 'E_GRANT_EXPIRED',
  /** The grant's validity window has not started. */
  GRANT_NOT_YET_VALID: 'E_GRANT_NOT_YET_VALID',
  /** Another record of an all-or-nothing group was refused, so this one was too. */
  ATOMIC_ABORTED: 'E_ATOMIC_ABORTED',
  /** The record's timestamp is too far from the block time. */
  CLOCK_SKEW: 'E_CLOCK_SKEW',
  /** A batch's events do not match its signed seal (count, positions or root), or are out of place. */
  BATCH_MISMATCH: 'E_BATCH_MISMATCH',
  /** A Merkle proof does not lead to the expected root. */
  PROOF_INVALID: 'E_PROOF_INVALID',
  /** A checkpoint is malformed, unsigned by a trusted key, or disagrees with a proof. */
  CHECKPOINT_INVALID: 'E_CHECKPOINT_INVALID',
  /** A key string (C2SP note key format) is malformed. */
  KEY_INVALID: 'E_KEY_INVALID',
  /** The requested index, size or block does not exist. */
  NOT_FOUND: 'E_NOT_FOUND',
  /** No ledger exists at the path. */
  LEDGER_NOT_FOUND: 'E_LEDGER_NOT_FOUND',
  /** A ledger already exists at the path. */
  LEDGER_EXISTS: 'E_LEDGER_EXISTS',
  /** The ledger is closed. */
  LEDGER_CLOSED: 'E_LEDGER_CLOSED',
  /** The ledger was opened without the sequencer key, so it cannot append. */
  READ_ONLY: 'E_READ_ONLY',
  /** Stored data failed verification: the ledger on disk was changed or damaged. */
  LEDGER_CORRUPT: 'E_LEDGER_CORRUPT',
  /** The folder holds a storage format this version of dirchain cannot read. */
  LEDGER_FORMAT: 'E_LEDGER_FORMAT',
  /** The storage layer failed; the ledger stopped accepting writes to stay consistent. */
  STORAGE: 'E_STORAGE',
  /** A served ledger or an object store could not be reached, or refused the request (network error, an HTTP status other than 200, an S3 error code). */
  REMOTE: 'E_REMOTE',
  /** A node request without a valid member signature (RFC 9421): missing, malformed, expired or by an unknown key. */
  UNAUTHENTICATED: 'E_UNAUTHENTICATED',
  /** Two checkpoints signed by the log's key that cannot both be true: the log forked (kept as evidence). */
  FORK: 'E_FORK',
  /** The log signed a block that its own rules refuse on replay (kept as evidence). */
  INVALID_BLOCK: 'E_INVALID_BLOCK',
  /** A signed node request whose nonce was already used: a replay. */
  REPLAYED: 'E_REPLAYED',
  /** The node cannot take this request now (shutting down, or a bounded queue is full); retry later. */
  UNAVAILABLE: 'E_UNAVAILABLE',
  /** The node has the path but not for this HTTP method. */
  METHOD_NOT_ALLOWED: 'E_METHOD_NOT_ALLOWED',
  /** A request body whose Content-Type the path does not take. */
  CONTENT_TYPE: 'E_CONTENT_TYPE',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface DirchainErrorOptions {
  /** One line telling the person what to do about it. */
  hint?: string;
  /** Log index the error concerns, when there is one. */
  index?: number;
  cause?: unknown;
}

export class DirchainError extends Error {
  readonly code: ErrorCodeValue;
  readonly hint: string | undefined;
  readonly index: number | undefined;

  constructor(code: ErrorCodeValue, message: string, options: DirchainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DirchainError';
    this.code = code;
    this.hint = options.hint;
    this.index = options.index;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.index !== undefined) out.index = this.index;
    return out;
  }
}

/** Shorthand used at validation boundaries. */
export function fail(code: ErrorCodeValue, message: string, options?: DirchainErrorOptions): never {
  throw new DirchainError(code, message, options);
}

export function isDirchainError(e: unknown, code?: ErrorCodeValue): e is DirchainError {
  return e instanceof DirchainError && (code === undefined || e.code === code);
}
