/**
 * C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): a witness states
 * "this is a consistent tree of this origin" by adding one more signed-note
 * line to a checkpoint:
 *
 *   — <witness name> base64(key ID(4) || timestamp(8, big-endian) || signature)
 *
 * Two types, told apart by the key ID (it hashes the type byte in, so an
 * Ed25519 and an ML-DSA-44 key of one name are two witnesses):
 *
 * - Ed25519 `cosignature/v1` (type 0x04): key ID = SHA-256(name || "\n" || 0x04 ||
 *   32-byte key)[:4], a 64-byte signature over "cosignature/v1\ntime <timestamp>\n"
 *   and the checkpoint text (every line, extension lines too).
 * - ML-DSA-44 `subtree/v1` (type 0x06, FIPS 204 pure ML-DSA, empty context): key ID =
 *   SHA-256(name || "\n" || 0x06 || 1312-byte key)[:4], a 2420-byte signature over
 *   the `cosigned_message` struct (`subtreeCosignedMessage`): the witness name, the
 *   timestamp, and the checkpoint's origin, size and root. Extension lines are not
 *   covered: no ML-DSA witness vouches for them.
 *
 * Witness keys are vkeys `name+hash+base64(type || key)`.
 *
 * Pure: the caller passes SHA-256 and Ed25519 verify, so `dirchain/verify`
 * uses noble here and browsers can run it; ML-DSA-44 is noble's everywhere.
 */

import { ml_dsa44 } from '@noble/post-quantum/ml-dsa.js';
import { ErrorCode, fail } from '../errors.js';
import { checkBytes, checkObject, checkString, concatBytes, show, typeOf, utf8 } from './bytes.js';
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, type Verify } from './ed25519.js';
import {
  isValidKeyName,
  type NoteVerifier,
  noteKeyHash,
  parseKeyParts,
  parseNote,
  parseTypedVerifierKey,
} from './note.js';
import type { Sha256 } from './sha256.js';

/** Signature type byte of Ed25519 cosignature/v1 keys. */
export const ALG_COSIGNATURE_V1 = 0x04;
/** Signature type byte of ML-DSA-44 (sub)tree cosignature keys (C2SP signed-note). */
export const ALG_ML_DSA_44_COSIGNATURE = 0x06;
/** Header line of the cosigned message (the spec's domain separation; fixed by C2SP, not ours to change). */
export const COSIGNATURE_V1_HEADER = 'cosignature/v1\n';
/** Label opening the ML-DSA-44 `cosigned_message` (12 bytes; fixed by C2SP). */
export const SUBTREE_V1_LABEL = 'subtree/v1\n\0';
export const ML_DSA_44_PUBLIC_KEY_LENGTH = 1312;
export const ML_DSA_44_SIGNATURE_LENGTH = 2420;
/** ML-DSA-44 key generation seed (FIPS 204 ξ), what a witness signer key holds. */
export const ML_DSA_44_SEED_LENGTH = 32;
const TIMESTAMP_LENGTH = 8;
const MAX_TIMESTAMP = (1n << 63n) - 1n;

/** The cosignature types a witness key can have. */
export type WitnessKeyType = 'ed25519' | 'ml-dsa-44';

/** A witness verifier key: a note verifier of one cosignature type. */
export interface WitnessVerifier extends NoteVerifier {
  readonly type: WitnessKeyType;
}

/** One valid cosignature a verifier counted. */
export interface Cosignature {
  readonly name: string;
  readonly keyHash: number;
  readonly type: WitnessKeyType;
  /** POSIX seconds at which the witness cosigned (0: an ML-DSA witness that made no statement of time). */
  readonly time: number;
}

const TYPES: Record<WitnessKeyType, { alg: number; keyLength: number; signatureLength: number }> = {
  ed25519: { alg: ALG_COSIGNATURE_V1, keyLength: PUBLIC_KEY_LENGTH, signatureLength: SIGNATURE_LENGTH },
  'ml-dsa-44': {
    alg: ALG_ML_DSA_44_COSIGNATURE,
    keyLength: ML_DSA_44_PUBLIC_KEY_LENGTH,
    signatureLength: ML_DSA_44_SIGNATURE_LENGTH,
  },
};

/** The signature type byte of a witness key type. */
export function witnessKeyAlg(type: WitnessKeyType): number {
  return TYPES[type].alg;
}

function checkTime(time: bigint | number): bigint {
  if (!(typeof time === 'bigint' || Number.isSafeInteger(time)))
    fail(ErrorCode.INVALID_ARGUMENT, `cosignature time must be a whole number of seconds, got ${show(time)}`);
  const t = BigInt(time);
  if (t < 0n || t > MAX_TIMESTAMP) fail(ErrorCode.INVALID_ARGUMENT, `cosignature time ${t} is out of range`);
  return t;
}

/** The message an Ed25519 (cosignature/v1) witness signs for checkpoint `text` at POSIX second `time`. */
export function cosignedMessage(text: string, time: bigint | number): Uint8Array {
  return utf8(`${COSIGNATURE_V1_HEADER}time ${checkTime(time)}\n${text}`);
}

/** An `opaque x<1..2^8-1>` field: its 1-byte length, then the bytes. */
function shortOpaque(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 1 || bytes.length > 255)
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be 1 to 255 bytes of UTF-8, got ${bytes.length}`);
  return concatBytes(Uint8Array.of(bytes.length), bytes);
}

function uint64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

/** Throws unless `name` can be an ML-DSA-44 cosigner's name: a key name of 1 to 255 bytes. */
export function checkCosignerName(name: string): void {
  checkString(name, 'cosigner name');
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const length = utf8(name).length;
  if (length > 255)
    fail(ErrorCode.KEY_INVALID, `an ML-DSA-44 cosigner name is at most 255 bytes, got ${length}`, {
      hint: 'use a shorter witness name',
    });
}

/**
 * The message an ML-DSA-44 witness signs for a checkpoint at POSIX second `time`
 * (C2SP tlog-cosignature, "ML-DSA-44 signed message"): the `cosigned_message`
 *
 *   "subtree/v1\n\0" || u8 len || cosigner name || u64 timestamp ||
 *   u8 len || log origin || u64 start = 0 || u64 end = tree size || root hash(32)
 *
 * integers big-endian. A checkpoint is the subtree from leaf 0 to its size.
 */
/** What an ML-DSA-44 cosignature covers of a checkpoint (its extension lines are not). */
export interface CosignedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

/** A checkpoint's root hash is SHA-256. */
const ROOT_LENGTH = 32;

export function subtreeCosignedMessage(
  cosigner: string,
  time: bigint | number,
  checkpoint: CosignedCheckpoint,
): Uint8Array {
  checkString(cosigner, 'cosigner name');
  const t = checkTime(time);
  checkObject(checkpoint, 'checkpoint');
  checkString(checkpoint.origin, 'checkpoint origin');
  if (!(Number.isSafeInteger(checkpoint.size) && checkpoint.size >= 0))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `checkpoint size: expected a whole number ≥ 0, got ${show(checkpoint.size)}`,
    );
  checkBytes(checkpoint.root, 'checkpoint root');
  if (checkpoint.root.length !== ROOT_LENGTH)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `checkpoint root: expected ${ROOT_LENGTH} bytes, got ${checkpoint.root.length}`,
    );
  return concatBytes(
    utf8(SUBTREE_V1_LABEL),
    shortOpaque(utf8(cosigner), 'cosigner name'),
    uint64(t),
    shortOpaque(utf8(checkpoint.origin), 'log origin'),
    uint64(0n),
    uint64(BigInt(checkpoint.size)),
    checkpoint.root,
  );
}

/** The signature bytes of a cosignature line (after the key ID): timestamp || signature. */
export function timestampedSignature(time: bigint | number, signature: Uint8Array): Uint8Array {
  return concatBytes(uint64(checkTime(time)), signature);
}

/** The ML-DSA-44 key pair of a 32-byte seed (FIPS 204 ML-DSA.KeyGen_internal(ξ)). */
export function mlDsa44KeyPair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  checkBytes(seed, 'ML-DSA-44 seed');
  if (seed.length !== ML_DSA_44_SEED_LENGTH)
    fail(
      ErrorCode.KEY_INVALID,
      `ML-DSA-44 seed: expected ${ML_DSA_44_SEED_LENGTH} bytes, got ${seed.length}`,
    );
  return ml_dsa44.keygen(seed);
}

/**
 * Pure ML-DSA-44 signature (FIPS 204 ML-DSA.Sign, empty context), hedged: each
 * signature mixes in fresh randomness, as FIPS 204 recommends, so signing the
 * same message twice gives two different valid signatures.
 */
export function mlDsa44Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ml_dsa44.sign(message, secretKey);
}

/** Pure ML-DSA-44 verification (FIPS 204 ML-DSA.Verify, empty context); false for malformed input. */
export function mlDsa44Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ml_dsa44.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * The parts of key text `[PRIVATE+KEY+]name+hash+base64(type || key)`: name, key
 * hash, signature type byte and key. Only the syntax is checked, so a caller can
 * pick the parser for the type.
 */
export function witnessKeyParts(
  text: string,
  what: string,
): { name: string; keyHash: number; alg: number; key: Uint8Array } {
  checkString(text, what);
  const t = text.trim();
  const { name, hash, alg, key } = parseKeyParts(
    t.startsWith('PRIVATE+KEY+') ? t.slice('PRIVATE+KEY+'.length) : t,
    what,
  );
  return { name, keyHash: hash, alg, key: key.slice() };
}

/**
 * Parses a witness verifier key: `name+hash+base64(0x04 || 32-byte Ed25519 key)`
 * or `name+hash+base64(0x06 || 1312-byte ML-DSA-44 key)`; checks the key ID.
 */
export function parseWitnessKey(sha256: Sha256, text: string): WitnessVerifier {
  const what = 'witness key';
  const parts = witnessKeyParts(text, what);
  if (parts.alg === ALG_COSIGNATURE_V1)
    return { ...parseTypedVerifierKey(sha256, text, ALG_COSIGNATURE_V1, what), type: 'ed25519' };
  if (parts.alg !== ALG_ML_DSA_44_COSIGNATURE)
    fail(
      ErrorCode.KEY_INVALID,
      `${what}: key type ${parts.alg}, expected ${ALG_COSIGNATURE_V1} (Ed25519 cosignature/v1) or ${ALG_ML_DSA_44_COSIGNATURE} (ML-DSA-44)`,
      { hint: 'give a witness (cosignature) key here' },
    );
  if (parts.key.length !== ML_DSA_44_PUBLIC_KEY_LENGTH)
    fail(ErrorCode.KEY_INVALID, `${what}: expected a ${ML_DSA_44_PUBLIC_KEY_LENGTH}-byte ML-DSA-44 key`);
  checkCosignerName(parts.name);
  if (noteKeyHash(sha256, parts.name, ALG_ML_DSA_44_COSIGNATURE, parts.key) !== parts.keyHash)
    fail(ErrorCode.KEY_INVALID, `${what}: key hash mismatch`);
  return { name: parts.name, keyHash: parts.keyHash, publicKey: parts.key, type: 'ml-dsa-44' };
}

/**
 * Throws unless `v` has a witness verifier's shape, for verifiers handed in as
 * objects: E_INVALID_ARGUMENT for wrong types, E_KEY_INVALID for a name no key
 * can have. Without a `type`, the key's length says it: 32 bytes Ed25519, 1312 ML-DSA-44.
 */
export function checkWitnessVerifier(v: unknown, what: string): WitnessVerifier {
  checkObject(v, what);
  checkString(v.name, `${what} name`);
  if (!isValidKeyName(v.name))
    fail(ErrorCode.KEY_INVALID, `${what}: invalid key name ${JSON.stringify(v.name)}`);
  const keyHash = v.keyHash;
  if (!(Number.isInteger(keyHash) && (keyHash as number) >= 0 && (keyHash as number) <= 0xffff_ffff))
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: key hash must be an integer in 0..2^32-1`);
  checkBytes(v.publicKey, `${what} public key`);
  const length = v.publicKey.length;
  let type = v.type;
  if (type === undefined) type = length === ML_DSA_44_PUBLIC_KEY_LENGTH ? 'ml-dsa-44' : 'ed25519';
  if (type !== 'ed25519' && type !== 'ml-dsa-44')
    fail(ErrorCode.INVALID_ARGUMENT, `${what} type: expected 'ed25519' or 'ml-dsa-44', got ${typeOf(type)}`);
  if (length !== TYPES[type].keyLength)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `${what} public key: expected ${TYPES[type].keyLength} bytes, got ${length}`,
    );
  if (type === 'ml-dsa-44') checkCosignerName(v.name);
  return { name: v.name, keyHash: keyHash as number, publicKey: v.publicKey, type };
}

/**
 * Distinct witnesses (by name and key ID) and the quorum to require of them.
 * Quorum defaults to all of them; more than there are is an error, since it can never be met.
 */
export function witnessPolicy<W extends NoteVerifier>(
  witnesses: readonly W[],
  quorum: number | undefined,
): { witnesses: W[]; quorum: number } {
  const distinct: W[] = [];
  for (const w of witnesses)
    if (!distinct.some((d) => d.name === w.name && d.keyHash === w.keyHash)) distinct.push(w);
  const q = quorum ?? distinct.length;
  if (!Number.isSafeInteger(q) || q < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `witness quorum must be a whole number ≥ 0, got ${show(quorum)}`);
  if (q > distinct.length) {
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `witness quorum ${q} is more than the ${distinct.length} witness keys given`,
      {
        hint: 'give more witness keys or a smaller quorum',
      },
    );
  }
  return { witnesses: distinct, quorum: q };
}

/**
 * Checks the cosignatures of `note` by the given witnesses, each by its type's
 * message and lengths. Lines by other keys are ignored (signed-note: unknown
 * signatures are not errors); a line by a given witness that does not verify
 * over this checkpoint is an error (E_BAD_SIGNATURE), as a bad signature by a
 * known key is in `openNote`. Several lines by one witness count once. Throws
 * E_QUORUM when fewer than `quorum` distinct witnesses cosigned.
 */
export function checkCosignatures(
  note: string,
  witnesses: readonly WitnessVerifier[],
  quorum: number | undefined,
  verify: Verify,
  checkpointOf: (text: string) => CosignedCheckpoint,
): Cosignature[] {
  const policy = witnessPolicy(witnesses, quorum);
  const { text, signatures } = parseNote(note);
  // Parsed only if an ML-DSA-44 line is to be checked: that message holds the checkpoint's fields, not its text.
  let checkpoint: CosignedCheckpoint | undefined;
  const counted: Cosignature[] = [];
  for (const sig of signatures) {
    const w = policy.witnesses.find((k) => k.name === sig.name && k.keyHash === sig.keyHash);
    if (w === undefined) continue;
    const bad = (why: string) =>
      fail(ErrorCode.BAD_SIGNATURE, `cosignature by witness ${w.name} (${w.type}) ${why}`, {
        hint: 'the checkpoint or the cosignature line was changed after the witness signed',
      });
    const expected = TIMESTAMP_LENGTH + TYPES[w.type].signatureLength;
    if (sig.signature.length !== expected) bad(`has ${sig.signature.length} bytes, expected ${expected}`);
    const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, TIMESTAMP_LENGTH);
    const time = view.getBigUint64(0);
    if (time > MAX_TIMESTAMP) bad('has a timestamp above 2^63-1');
    const signature = sig.signature.subarray(TIMESTAMP_LENGTH);
    if (w.type === 'ed25519') {
      if (!verify(w.publicKey, cosignedMessage(text, time), signature))
        bad('does not verify over this checkpoint');
    } else {
      checkpoint ??= checkpointOf(text);
      if (utf8(checkpoint.origin).length > 255)
        bad('cannot cover a checkpoint whose origin is over 255 bytes');
      if (!mlDsa44Verify(w.publicKey, subtreeCosignedMessage(w.name, time, checkpoint), signature))
        bad('does not verify over this checkpoint');
    }
    if (!counted.some((c) => c.name === w.name && c.keyHash === w.keyHash))
      counted.push({ name: w.name, keyHash: w.keyHash, type: w.type, time: Number(time) });
  }
  if (counted.length < policy.quorum) {
    const names = (l: readonly { name: string }[]) => l.map((x) => x.name).join(', ') || 'none';
    fail(
      ErrorCode.QUORUM,
      `checkpoint has ${counted.length} of the ${policy.quorum} witness cosignatures required`,
      { hint: `witnesses: ${names(policy.witnesses)}; cosigned by: ${names(counted)}` },
    );
  }
  return counted;
}
