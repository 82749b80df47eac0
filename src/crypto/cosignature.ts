/**
 * C2SP tlog-cosignature/v1 (https://c2sp.org/tlog-cosignature), Ed25519 type:
 * a witness states "as of <time>, this is the largest consistent tree I have
 * seen for this origin" by adding one more signed-note line to a checkpoint:
 *
 *   — <witness name> base64(key ID(4) || timestamp(8, big-endian) || Ed25519 signature(64))
 *
 * key ID = SHA-256(name || "\n" || 0x04 || public key)[:4], and the signed
 * message is "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint
 * text (every line, extension lines too, without the signature lines).
 * Witness keys are vkeys of type 0x04: `name+hash+base64(0x04 || key)`.
 *
 * Pure: the caller passes SHA-256 and Ed25519 verify, so `dirchain/verify`
 * uses noble here and browsers can run it.
 */

import { ErrorCode, fail } from '../errors.js';
import { concatBytes, show, utf8 } from './bytes.js';
import { SIGNATURE_LENGTH, type Verify } from './ed25519.js';
import { type NoteVerifier, parseNote, parseTypedVerifierKey } from './note.js';
import type { Sha256 } from './sha256.js';

/** Signature type byte of Ed25519 cosignature/v1 keys. */
export const ALG_COSIGNATURE_V1 = 0x04;
/** Header line of the cosigned message (the spec's domain separation; fixed by C2SP, not ours to change). */
export const COSIGNATURE_V1_HEADER = 'cosignature/v1\n';
const TIMESTAMP_LENGTH = 8;
const MAX_TIMESTAMP = (1n << 63n) - 1n;

/** One valid cosignature a verifier counted. */
export interface Cosignature {
  readonly name: string;
  readonly keyHash: number;
  /** POSIX seconds at which the witness cosigned. */
  readonly time: number;
}

/** The message a witness signs for checkpoint `text` at POSIX second `time`. */
export function cosignedMessage(text: string, time: bigint | number): Uint8Array {
  if (!(typeof time === 'bigint' || Number.isSafeInteger(time)))
    fail(ErrorCode.INVALID_ARGUMENT, `cosignature time must be a whole number of seconds, got ${show(time)}`);
  const t = BigInt(time);
  if (t < 0n || t > MAX_TIMESTAMP) fail(ErrorCode.INVALID_ARGUMENT, `cosignature time ${t} is out of range`);
  return utf8(`${COSIGNATURE_V1_HEADER}time ${t}\n${text}`);
}

/** The signature bytes of a cosignature line (after the key ID): timestamp || signature. */
export function timestampedSignature(time: bigint | number, signature: Uint8Array): Uint8Array {
  const ts = new Uint8Array(TIMESTAMP_LENGTH);
  new DataView(ts.buffer).setBigUint64(0, BigInt(time));
  return concatBytes(ts, signature);
}

/** Parses a witness verifier key (`name+hash+base64(0x04 || key)`). */
export function parseWitnessKey(sha256: Sha256, text: string): NoteVerifier {
  return parseTypedVerifierKey(sha256, text, ALG_COSIGNATURE_V1, 'witness key');
}

/**
 * Distinct witnesses (by name and key ID) and the quorum to require of them.
 * Quorum defaults to all of them; more than there are is an error, since it can never be met.
 */
export function witnessPolicy(
  witnesses: readonly NoteVerifier[],
  quorum: number | undefined,
): { witnesses: NoteVerifier[]; quorum: number } {
  const distinct: NoteVerifier[] = [];
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
 * Checks the cosignatures of `note` by the given witnesses. Lines by other keys
 * are ignored (signed-note: unknown signatures are not errors); a line by a
 * given witness that does not verify over this checkpoint is an error
 * (E_BAD_SIGNATURE), as a bad signature by a known key is in `openNote`.
 * Several lines by one witness count once. Throws E_QUORUM when fewer than
 * `quorum` distinct witnesses cosigned.
 */
export function checkCosignatures(
  note: string,
  witnesses: readonly NoteVerifier[],
  quorum: number | undefined,
  verify: Verify,
): Cosignature[] {
  const policy = witnessPolicy(witnesses, quorum);
  const { text, signatures } = parseNote(note);
  const counted: Cosignature[] = [];
  for (const sig of signatures) {
    const w = policy.witnesses.find((k) => k.name === sig.name && k.keyHash === sig.keyHash);
    if (w === undefined) continue;
    const bad = (why: string) =>
      fail(ErrorCode.BAD_SIGNATURE, `cosignature by witness ${w.name} ${why}`, {
        hint: 'the checkpoint or the cosignature line was changed after the witness signed',
      });
    if (sig.signature.length !== TIMESTAMP_LENGTH + SIGNATURE_LENGTH)
      bad(`has ${sig.signature.length} bytes, expected ${TIMESTAMP_LENGTH + SIGNATURE_LENGTH}`);
    const view = new DataView(sig.signature.buffer, sig.signature.byteOffset, TIMESTAMP_LENGTH);
    const time = view.getBigUint64(0);
    if (time > MAX_TIMESTAMP) bad('has a timestamp above 2^63-1');
    const signature = sig.signature.subarray(TIMESTAMP_LENGTH);
    if (!verify(w.publicKey, cosignedMessage(text, time), signature))
      bad('does not verify over this checkpoint');
    if (!counted.some((c) => c.name === w.name && c.keyHash === w.keyHash))
      counted.push({ name: w.name, keyHash: w.keyHash, time: Number(time) });
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
