/**
 * The record envelope: what an author signs and the ledger stores, hashes and
 * serves, as one byte string (the log entry). Bytes are the truth: a record is
 * encoded once by its author; every later step slices these bytes, nothing is
 * re-encoded to verify.
 *
 *   entry  = MessagePack [ signed: bin, signature: bin(64) ]
 *   signed = MessagePack [ version=1, origin, kind, author, keyId, timestamp, body ]
 *   signature = Ed25519(RECORD_SIGNATURE_CONTEXT || signed)
 *
 * The signature covers the exact `signed` bytes, so it never depends on key
 * order or on how another library would encode the same values.
 */
import { checkBytes, checkObject, concatBytes, show, typeOf, utf8 } from '../crypto/bytes.js';
import { RECORD_SIGNATURE_CONTEXT } from '../crypto/domain.js';
import { checkLength, SIGNATURE_LENGTH, type Signer, type Verify } from '../crypto/ed25519.js';
import { ErrorCode, fail } from '../errors.js';
import { checkCanonical } from './canonical.js';
import { assertPlain, type Plain, pack, stringAt, unpackCheckedAt } from './msgpack.js';

export const RECORD_VERSION = 1;
/** tlog-tiles entry bundles carry each entry behind a uint16 length. */
export const MAX_ENTRY_BYTES = 65_535;

/** The largest time a JavaScript Date can hold (year 275760), so every timestamp formats. */
export const MAX_TIMESTAMP = 8_640_000_000_000_000;

export const KIND_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** What an author fills in; the envelope adds version and signature. */
export interface RecordDraft {
  readonly origin: string;
  readonly kind: string;
  /** Member id of the author. */
  readonly author: string;
  /** Which of the author's keys signed (0 for the first, +1 per rotation). */
  readonly keyId: number;
  /** Milliseconds since the Unix epoch, set by the author. */
  readonly timestamp: number;
  readonly body: Plain;
}

/** A decoded record together with the exact bytes it came from. */
export interface LedgerRecord extends RecordDraft {
  readonly version: number;
  /** The log entry: exactly what is stored, served and hashed into the leaf. */
  readonly bytes: Uint8Array;
  /** The signed part of the entry (a view into `bytes`). */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

const CONTEXT = utf8(RECORD_SIGNATURE_CONTEXT);

/** The exact message an author's signature covers. */
export function recordSigningMessage(signed: Uint8Array): Uint8Array {
  return concatBytes(CONTEXT, signed);
}

/** `body`: false where the canonical walk has already checked it is plain data (decoding). */
function checkDraft(d: RecordDraft, body = true): void {
  if (typeof d.origin !== 'string' || d.origin.length === 0)
    fail(ErrorCode.SCHEMA, 'record origin must be a non-empty string');
  if (typeof d.kind !== 'string' || !KIND_PATTERN.test(d.kind)) {
    fail(ErrorCode.SCHEMA, `record kind ${show(d.kind)} must match ${KIND_PATTERN}`);
  }
  if (typeof d.author !== 'string' || !MEMBER_ID_PATTERN.test(d.author)) {
    fail(ErrorCode.SCHEMA, `record author ${show(d.author)} must match ${MEMBER_ID_PATTERN}`);
  }
  if (!Number.isSafeInteger(d.keyId) || d.keyId < 0 || d.keyId > 0xffff_ffff) {
    fail(ErrorCode.SCHEMA, 'record keyId must be an integer in 0..2^32-1');
  }
  if (!Number.isSafeInteger(d.timestamp) || d.timestamp < 0 || d.timestamp > MAX_TIMESTAMP) {
    fail(ErrorCode.SCHEMA, `record timestamp must be an integer in 0..${MAX_TIMESTAMP} (milliseconds)`);
  }
  if (body) assertPlain(d.body, 'record body');
}

function packEntry(signed: Uint8Array, signature: Uint8Array): Uint8Array {
  // Hand-written outer array so its layout is fixed and minimal: fixarray(2),
  // bin8/bin16 header + signed, bin8(64) + signature.
  const header = signed.length < 256 ? 2 : 3;
  const out = new Uint8Array(1 + header + signed.length + 2 + SIGNATURE_LENGTH);
  out[0] = 0x92;
  if (header === 2) {
    out[1] = 0xc4;
    out[2] = signed.length;
  } else {
    out[1] = 0xc5;
    out[2] = signed.length >> 8;
    out[3] = signed.length & 255;
  }
  out.set(signed, 1 + header);
  let at = 1 + header + signed.length;
  out[at++] = 0xc4;
  out[at++] = SIGNATURE_LENGTH;
  out.set(signature, at);
  return out;
}

/** Encodes and signs a record. The result's `bytes` is the log entry. */
export function signRecord(draft: RecordDraft, signer: Signer): LedgerRecord {
  checkObject(draft, 'record draft');
  checkDraft(draft);
  checkSigner(signer);
  const signed = pack([
    RECORD_VERSION,
    draft.origin,
    draft.kind,
    draft.author,
    draft.keyId,
    draft.timestamp,
    draft.body,
  ]);
  const signature = signer.sign(recordSigningMessage(signed));
  checkLength(signature, SIGNATURE_LENGTH, 'signature');
  const bytes = packEntry(signed, signature);
  if (bytes.length > MAX_ENTRY_BYTES) {
    fail(ErrorCode.TOO_LARGE, `record is ${bytes.length} bytes; a log entry is at most ${MAX_ENTRY_BYTES}`, {
      hint: 'put large content beside the ledger and record its hash',
    });
  }
  const start = bytes.length - SIGNATURE_LENGTH - 2 - signed.length;
  return {
    version: RECORD_VERSION,
    ...draft,
    bytes,
    signed: bytes.subarray(start, start + signed.length),
    signature: bytes.subarray(bytes.length - SIGNATURE_LENGTH),
  };
}

/** Throws E_INVALID_ARGUMENT unless `signer` can sign: an object with a `sign` function. */
function checkSigner(signer: Signer): void {
  checkObject(signer, 'signer');
  if (typeof signer.sign !== 'function')
    fail(ErrorCode.INVALID_ARGUMENT, `signer.sign: expected a function, got ${typeOf(signer.sign)}`);
}

/** The entry's two parts, after checking its exact outer layout (no trailing bytes). */
function splitEntry(bytes: Uint8Array): { signed: Uint8Array; signature: Uint8Array } {
  checkBytes(bytes, 'record');
  if (bytes.length > MAX_ENTRY_BYTES)
    fail(ErrorCode.TOO_LARGE, `record is ${bytes.length} bytes; the limit is ${MAX_ENTRY_BYTES}`);
  if (bytes.length < 4 || bytes[0] !== 0x92)
    fail(ErrorCode.DECODE, 'record is not a 2-element MessagePack array');
  let at = 1;
  let signedLength: number;
  if (bytes[at] === 0xc4) {
    signedLength = bytes[at + 1]!;
    at += 2;
  } else if (bytes[at] === 0xc5) {
    signedLength = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    if (signedLength < 256) fail(ErrorCode.DECODE, 'record uses a non-minimal length header');
    at += 3;
  } else {
    return fail(ErrorCode.DECODE, 'record does not start with its signed part as binary');
  }
  const signed = bytes.subarray(at, at + signedLength);
  at += signedLength;
  if (
    at + 2 + SIGNATURE_LENGTH !== bytes.length ||
    bytes[at] !== 0xc4 ||
    bytes[at + 1] !== SIGNATURE_LENGTH
  ) {
    fail(ErrorCode.DECODE, 'record must end with exactly one 64-byte signature');
  }
  return { signed, signature: bytes.subarray(at + 2) };
}

/**
 * Strictly decodes a log entry: exact outer layout, no trailing bytes, the
 * signed part a 7-element array of the right types, body plain data. Does not
 * check the signature (that needs the author's key: see `verifyRecordSignature`).
 */
export function decodeRecord(bytes: Uint8Array): LedgerRecord {
  const e = decodeEnvelope(bytes);
  const body = unpackCheckedAt(e.signed, e.bodyAt).value as Plain;
  return { version: RECORD_VERSION, ...e.draft, body, bytes, signed: e.signed, signature: e.signature };
}

/**
 * `decodeRecord` (the same checks, the same refusals) that decodes the body
 * only when it is first read. For the sequencer's block forming: the policy
 * reads no body of an application (`x.`) kind, and those bodies were most of
 * what decoding a record allocated.
 */
export function decodeRecordLazily(bytes: Uint8Array): LedgerRecord {
  const e = decodeEnvelope(bytes);
  return new LazyBodyRecord(e.draft, bytes, e.signed, e.signature, e.bodyAt);
}

/** Every check of `decodeRecord`; the fields but the body, and where the body starts. */
function decodeEnvelope(bytes: Uint8Array): {
  draft: RecordDraft;
  signed: Uint8Array;
  signature: Uint8Array;
  bodyAt: number;
} {
  const { signed, signature } = splitEntry(bytes);
  // The 7-element envelope is one level above the body, which gets assertPlain's full depth.
  checkCanonical(signed, 'record signed part', 33);
  if (signed[0] !== 0x97) fail(ErrorCode.DECODE, 'record signed part must be a 7-element array');
  const head: unknown[] = [];
  let at = 1;
  for (let i = 0; i < 6; i++) {
    const { value, end } = unpackCheckedAt(signed, at);
    head.push(value);
    at = end;
  }
  const [version, origin, kind, author, keyId, timestamp] = head;
  if (version !== RECORD_VERSION) fail(ErrorCode.DECODE, `unsupported record version ${String(version)}`);
  const draft = { origin, kind, author, keyId, timestamp, body: null } as RecordDraft;
  checkDraft(draft, false); // checkCanonical checked the body: plain, at most 32 deep
  return { draft, signed, signature, bodyAt: at };
}

class LazyBodyRecord implements LedgerRecord {
  readonly version = RECORD_VERSION;
  readonly origin: string;
  readonly kind: string;
  readonly author: string;
  readonly keyId: number;
  readonly timestamp: number;
  #body: Plain | undefined;

  constructor(
    draft: RecordDraft,
    readonly bytes: Uint8Array,
    readonly signed: Uint8Array,
    readonly signature: Uint8Array,
    readonly bodyAt: number,
  ) {
    this.origin = draft.origin;
    this.kind = draft.kind;
    this.author = draft.author;
    this.keyId = draft.keyId;
    this.timestamp = draft.timestamp;
  }

  get body(): Plain {
    this.#body ??= unpackCheckedAt(this.signed, this.bodyAt).value as Plain;
    return this.#body;
  }
}

/** What is needed to check a record's signature: who signed, with which key, over which bytes. */
export interface RecordHead {
  readonly kind: string;
  readonly author: string;
  readonly keyId: number;
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * Reads only a record's kind, author and keyId (and its two parts), for the
 * signature check that comes before sequencing. Not a validation: whatever it
 * accepts is decoded strictly (`decodeRecord`) before the policy judges it, and
 * on equal bytes both read the same author and keyId. It exists so records
 * waiting for their signature check hold no decoded body: thousands of them
 * wait at once, and their decoded bodies were most of what young-generation
 * collections copied (allocation profile of figure 2's ingest).
 */
export function readRecordHead(bytes: Uint8Array): RecordHead {
  const { signed, signature } = splitEntry(bytes);
  if (signed[0] !== 0x97) fail(ErrorCode.DECODE, 'record signed part must be a 7-element array');
  if (signed[1] !== RECORD_VERSION) fail(ErrorCode.DECODE, 'unsupported record version');
  const reader = { bytes: signed, at: 2 };
  skipString(reader, 'origin');
  const kind = readString(reader, 'kind');
  const author = readString(reader, 'author');
  const keyId = readUint(reader, 'keyId');
  return { kind, author, keyId, signed, signature };
}

interface Reader {
  readonly bytes: Uint8Array;
  at: number;
}

function readString(r: Reader, what: string): string {
  const start = skipString(r, what);
  return stringAt(r.bytes, start, r.at);
}

/** Moves past a string; returns where its bytes start (they end at `r.at`). */
function skipString(r: Reader, what: string): number {
  const b = r.bytes;
  const tag = b[r.at]!;
  let length: number;
  let start: number;
  if (tag >= 0xa0 && tag <= 0xbf) {
    length = tag - 0xa0;
    start = r.at + 1;
  } else if (tag === 0xd9) {
    length = b[r.at + 1]!;
    start = r.at + 2;
  } else if (tag === 0xda) {
    length = (b[r.at + 1]! << 8) | b[r.at + 2]!;
    start = r.at + 3;
  } else {
    return fail(ErrorCode.DECODE, `record ${what} must be a string`);
  }
  const end = start + length;
  if (!(end <= b.length)) fail(ErrorCode.DECODE, `record ${what} runs past the signed part`);
  r.at = end;
  return start;
}

function readUint(r: Reader, what: string): number {
  const b = r.bytes;
  const tag = b[r.at]!;
  let value: number;
  if (tag <= 0x7f) {
    value = tag;
    r.at += 1;
  } else if (tag === 0xcc) {
    value = b[r.at + 1]!;
    r.at += 2;
  } else if (tag === 0xcd) {
    value = (b[r.at + 1]! << 8) | b[r.at + 2]!;
    r.at += 3;
  } else if (tag === 0xce) {
    value = ((b[r.at + 1]! << 24) >>> 0) + ((b[r.at + 2]! << 16) | (b[r.at + 3]! << 8) | b[r.at + 4]!);
    r.at += 5;
  } else {
    return fail(ErrorCode.DECODE, `record ${what} must be an unsigned integer`);
  }
  if (r.at > b.length) fail(ErrorCode.DECODE, `record ${what} runs past the signed part`);
  return value;
}

/** True when the record's signature verifies under `publicKey`. */
export function verifyRecordSignature(record: LedgerRecord, publicKey: Uint8Array, verify: Verify): boolean {
  return verify(publicKey, recordSigningMessage(record.signed), record.signature);
}
