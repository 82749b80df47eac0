/**
 * C2SP signed-note (https://c2sp.org/signed-note): a UTF-8 text followed by a
 * blank line and signature lines `— <name> <base64(key hash || signature)>`.
 * Key hash = first 4 bytes of SHA-256(name || "\n" || 0x01 || public key) for
 * Ed25519. Keys are written `name+hash+base64(0x01 || key)`, with a
 * `PRIVATE+KEY+` prefix for signer keys. Byte-compatible with Go's
 * golang.org/x/mod/sumdb/note, checked against ../shared/vectors/signed-note.json.
 *
 * Pure: the caller passes the hash and verify functions, so the verify entry can
 * use noble while the sequencer uses node's crypto.
 */
import { ErrorCode, fail } from '../errors.js';
import {
  checkArray,
  checkBytes,
  checkObject,
  checkString,
  concatBytes,
  fromBase64,
  toBase64,
  typeOf,
  utf8,
} from './bytes.js';
import {
  checkLength,
  PUBLIC_KEY_LENGTH,
  SEED_LENGTH,
  SIGNATURE_LENGTH,
  type Signer,
  type Verify,
} from './ed25519.js';
import type { Sha256 } from './sha256.js';

/** Signature algorithm byte for Ed25519 in C2SP signed-note. */
export const ALG_ED25519 = 0x01;
const MAX_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 ';

/** A key that verifies note signatures: name plus Ed25519 public key. */
export interface NoteVerifier {
  readonly name: string;
  /** Key hash as an unsigned 32-bit integer. */
  readonly keyHash: number;
  readonly publicKey: Uint8Array;
}

/** A signer: name plus the Ed25519 signer. */
export interface NoteSigner extends NoteVerifier {
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  /** The signature bytes after the 4-byte key hash. */
  readonly signature: Uint8Array;
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by the supplied verifiers, all checked. */
  readonly verified: NoteSignature[];
  /** Signatures by keys not supplied (e.g. witnesses the caller does not know). */
  readonly unverified: NoteSignature[];
}

/** Key names: non-empty, no whitespace, no '+' (C2SP signed-note §Signatures). */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' && name.length > 0 && !/[\s+]/u.test(name) && !/[\u0000-\u001f\u007f]/.test(name)
  );
}

export function noteKeyHash(sha256: Sha256, name: string, alg: number, publicKey: Uint8Array): number {
  const h = sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, alg), publicKey));
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

function hashHex(hash: number): string {
  return hash.toString(16).padStart(8, '0');
}

export function formatVerifierKey(sha256: Sha256, name: string, publicKey: Uint8Array): string {
  checkFunction(sha256, 'sha256');
  checkString(name, 'key name');
  checkLength(publicKey, PUBLIC_KEY_LENGTH, 'public key');
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const hash = noteKeyHash(sha256, name, ALG_ED25519, publicKey);
  return `${name}+${hashHex(hash)}+${toBase64(concatBytes(Uint8Array.of(ALG_ED25519), publicKey))}`;
}

export function formatSignerKey(
  sha256: Sha256,
  name: string,
  seed: Uint8Array,
  publicKey: Uint8Array,
): string {
  checkString(name, 'key name');
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const hash = noteKeyHash(sha256, name, ALG_ED25519, publicKey);
  return `PRIVATE+KEY+${name}+${hashHex(hash)}+${toBase64(concatBytes(Uint8Array.of(ALG_ED25519), seed))}`;
}

export function parseKeyParts(
  text: string,
  what: string,
): { name: string; hash: number; alg: number; key: Uint8Array } {
  checkString(text, what);
  // Names and hashes never contain '+', base64 may: split at the first two only.
  const t = text.trim();
  const a = t.indexOf('+');
  const b = a < 0 ? -1 : t.indexOf('+', a + 1);
  if (a < 0 || b < 0) {
    fail(ErrorCode.KEY_INVALID, `${what} must look like name+hash+base64key`, {
      hint: 'copy the key exactly as it was printed when it was made',
    });
  }
  const [name, hex, b64] = [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `${what}: invalid key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(hex))
    fail(ErrorCode.KEY_INVALID, `${what}: key hash must be 8 lowercase hex digits`);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    return fail(ErrorCode.KEY_INVALID, `${what}: key is not valid base64`);
  }
  if (raw.length < 1) fail(ErrorCode.KEY_INVALID, `${what}: key is empty`);
  return { name, hash: Number.parseInt(hex, 16), alg: raw[0]!, key: raw.subarray(1) };
}

/** Parses `name+hash+base64(0x01||pubkey)` and checks the hash matches. */
export function parseVerifierKey(sha256: Sha256, text: string): NoteVerifier {
  const { name, hash, alg, key } = parseKeyParts(text, 'verifier key');
  if (alg !== ALG_ED25519) fail(ErrorCode.KEY_INVALID, `verifier key: unsupported algorithm ${alg}`);
  if (key.length !== PUBLIC_KEY_LENGTH) fail(ErrorCode.KEY_INVALID, 'verifier key: expected a 32-byte key');
  if (noteKeyHash(sha256, name, alg, key) !== hash)
    fail(ErrorCode.KEY_INVALID, 'verifier key: key hash mismatch');
  return { name, keyHash: hash, publicKey: key.slice() };
}

/**
 * Parses `PRIVATE+KEY+name+hash+base64(0x01||seed)`. The key hash covers the
 * public key, which only the caller can derive (it needs a curve), so the
 * caller checks it: see `noteSigner(…, expectHash)`.
 */
export function parseSignerKey(text: string): { name: string; keyHash: number; seed: Uint8Array } {
  checkString(text, 'signer key');
  const t = text.trim();
  if (!t.startsWith('PRIVATE+KEY+')) fail(ErrorCode.KEY_INVALID, 'signer key must start with PRIVATE+KEY+');
  const { name, hash, alg, key } = parseKeyParts(t.slice('PRIVATE+KEY+'.length), 'signer key');
  if (alg !== ALG_ED25519) fail(ErrorCode.KEY_INVALID, `signer key: unsupported algorithm ${alg}`);
  if (key.length !== SEED_LENGTH) fail(ErrorCode.KEY_INVALID, 'signer key: expected a 32-byte seed');
  return { name, keyHash: hash, seed: key.slice() };
}

/** Wraps an Ed25519 signer as a note signer under `name`. */
export function noteSigner(sha256: Sha256, name: string, signer: Signer, expectHash?: number): NoteSigner {
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const keyHash = noteKeyHash(sha256, name, ALG_ED25519, signer.publicKey);
  if (expectHash !== undefined && expectHash !== keyHash) {
    fail(ErrorCode.KEY_INVALID, 'signer key: key hash does not match the key', {
      hint: 'the key text was changed or mistyped',
    });
  }
  return {
    name,
    keyHash,
    publicKey: signer.publicKey,
    sign: (m) => signer.sign(m),
  };
}

function checkFunction(value: unknown, what: string): void {
  if (typeof value !== 'function')
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected a function, got ${typeOf(value)}`);
}

function checkKeyHash(value: unknown, what: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff_ffff)
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: key hash must be an integer in 0..2^32-1`);
}

/**
 * Throws unless `v` has a verifier's shape: E_INVALID_ARGUMENT for wrong types,
 * E_KEY_INVALID for a name no key can have. For verifiers handed in as objects.
 */
export function checkVerifier(v: unknown, what: string): asserts v is NoteVerifier {
  checkObject(v, what);
  checkString(v.name, `${what} name`);
  if (!isValidKeyName(v.name))
    fail(ErrorCode.KEY_INVALID, `${what}: invalid key name ${JSON.stringify(v.name)}`);
  checkKeyHash(v.keyHash, what);
  checkLength(v.publicKey as Uint8Array, PUBLIC_KEY_LENGTH, `${what} public key`);
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) fail(ErrorCode.DECODE, 'note text must end with a newline');
  // Control characters other than newline are forbidden by the spec.
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text))
    fail(ErrorCode.DECODE, 'note text has a control character');
  if (text.includes('\n\n')) fail(ErrorCode.DECODE, 'note text must not contain a blank line');
}

function signatureLine(name: string, keyHash: number, signature: Uint8Array): string {
  const prefix = Uint8Array.of(keyHash >>> 24, (keyHash >>> 16) & 255, (keyHash >>> 8) & 255, keyHash & 255);
  return `${SIG_PREFIX}${name} ${toBase64(concatBytes(prefix, signature))}\n`;
}

/** Signs `text` with each signer; returns the note (text, blank line, signature lines). */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkString(text, 'note text');
  checkText(text);
  checkArray(signers, 'signers');
  if (signers.length === 0) fail(ErrorCode.INVALID_ARGUMENT, 'signNote needs at least one signer');
  for (const s of signers) {
    checkObject(s, 'signer');
    checkString(s.name, 'signer name');
    if (!isValidKeyName(s.name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(s.name)}`);
    checkKeyHash(s.keyHash, 'signer');
    checkFunction(s.sign, 'signer sign');
  }
  const message = utf8(text);
  let note = `${text}\n`;
  for (const s of signers) {
    const signature = s.sign(message);
    checkBytes(signature, `signature by ${s.name}`);
    note += signatureLine(s.name, s.keyHash, signature);
  }
  return note;
}

/** Splits a note into text and signature lines without checking any signature. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  checkString(note, 'note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail(ErrorCode.DECODE, 'note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  checkText(text);
  const sigBlock = note.slice(split + 2);
  if (!sigBlock.endsWith('\n')) fail(ErrorCode.DECODE, 'note signatures must end with a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES)
    fail(ErrorCode.DECODE, `note has more than ${MAX_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX))
      fail(ErrorCode.DECODE, `malformed signature line: ${JSON.stringify(line)}`);
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.lastIndexOf(' ');
    const name = rest.slice(0, space);
    if (space < 0 || !isValidKeyName(name))
      fail(ErrorCode.DECODE, `malformed signature line: ${JSON.stringify(line)}`);
    let raw: Uint8Array;
    try {
      raw = fromBase64(rest.slice(space + 1));
    } catch {
      return fail(ErrorCode.DECODE, `signature line for ${name} is not valid base64`);
    }
    if (raw.length < 5) fail(ErrorCode.DECODE, `signature line for ${name} is too short`);
    const keyHash = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
    signatures.push({ name, keyHash, signature: raw.slice(4) });
  }
  return { text, signatures };
}

/**
 * Opens a note: every signature by a known verifier must be valid (a bad one is
 * an error, as in Go's note.Open), and at least one must be present.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[], verify: Verify): OpenedNote {
  checkString(note, 'note');
  checkArray(verifiers, 'verifiers');
  for (const v of verifiers) checkVerifier(v, 'verifier');
  checkFunction(verify, 'verify');
  const { text, signatures } = parseNote(note);
  const message = utf8(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const sig of signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyHash === sig.keyHash);
    if (v === undefined) {
      unverified.push(sig);
      continue;
    }
    if (sig.signature.length !== SIGNATURE_LENGTH || !verify(v.publicKey, message, sig.signature)) {
      fail(
        ErrorCode.BAD_SIGNATURE,
        `signature by ${sig.name} (key ${hashHex(sig.keyHash)}) does not verify`,
        {
          hint: 'the note text or signature was changed after signing',
        },
      );
    }
    if (!verified.some((s) => s.name === sig.name && s.keyHash === sig.keyHash)) verified.push(sig);
  }
  if (verified.length === 0) {
    fail(ErrorCode.BAD_SIGNATURE, 'note has no signature from a trusted key', {
      hint: `trusted: ${verifiers.map((k) => `${k.name}+${hashHex(k.keyHash)}`).join(', ') || 'none'}; found: ${
        signatures.map((s) => `${s.name}+${hashHex(s.keyHash)}`).join(', ') || 'none'
      }`,
    });
  }
  return { text, verified, unverified };
}

/**
 * Verifier key of any signature type `alg` (C2SP vkey: `name+hash+base64(alg || key)`),
 * e.g. 0x04 for tlog-cosignature/v1 witness keys. The hash covers name, alg and key.
 */
export function formatTypedVerifierKey(
  sha256: Sha256,
  name: string,
  alg: number,
  publicKey: Uint8Array,
): string {
  checkString(name, 'key name');
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const hash = noteKeyHash(sha256, name, alg, publicKey);
  return `${name}+${hashHex(hash)}+${toBase64(concatBytes(Uint8Array.of(alg), publicKey))}`;
}

/** Signer key of signature type `alg`: `PRIVATE+KEY+name+hash+base64(alg || seed)`. */
export function formatTypedSignerKey(
  sha256: Sha256,
  name: string,
  alg: number,
  seed: Uint8Array,
  publicKey: Uint8Array,
): string {
  checkString(name, 'key name');
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  const hash = noteKeyHash(sha256, name, alg, publicKey);
  return `PRIVATE+KEY+${name}+${hashHex(hash)}+${toBase64(concatBytes(Uint8Array.of(alg), seed))}`;
}

/** Parses a verifier key that must be of signature type `alg` with a 32-byte Ed25519 key; checks its hash. */
export function parseTypedVerifierKey(sha256: Sha256, text: string, alg: number, what: string): NoteVerifier {
  const parts = parseKeyParts(text, what);
  if (parts.alg !== alg)
    fail(ErrorCode.KEY_INVALID, `${what}: key type ${parts.alg}, expected ${alg}`, {
      hint: alg === ALG_ED25519 ? 'give the log key here' : 'give a witness (cosignature) key here',
    });
  if (parts.key.length !== PUBLIC_KEY_LENGTH) fail(ErrorCode.KEY_INVALID, `${what}: expected a 32-byte key`);
  if (noteKeyHash(sha256, parts.name, alg, parts.key) !== parts.hash)
    fail(ErrorCode.KEY_INVALID, `${what}: key hash mismatch`);
  return { name: parts.name, keyHash: parts.hash, publicKey: parts.key.slice() };
}

/** Parses `PRIVATE+KEY+name+hash+base64(alg || seed)` of signature type `alg` (hash checked by the caller). */
export function parseTypedSignerKey(
  text: string,
  alg: number,
  what: string,
): { name: string; keyHash: number; seed: Uint8Array } {
  checkString(text, what);
  const t = text.trim();
  if (!t.startsWith('PRIVATE+KEY+')) fail(ErrorCode.KEY_INVALID, `${what} must start with PRIVATE+KEY+`);
  const parts = parseKeyParts(t.slice('PRIVATE+KEY+'.length), what);
  if (parts.alg !== alg) fail(ErrorCode.KEY_INVALID, `${what}: key type ${parts.alg}, expected ${alg}`);
  if (parts.key.length !== SEED_LENGTH) fail(ErrorCode.KEY_INVALID, `${what}: expected a 32-byte seed`);
  return { name: parts.name, keyHash: parts.hash, seed: parts.key.slice() };
}

/** One signature line `— <name> base64(key hash || signature)\n`, for signatures made outside `signNote`. */
export function formatSignatureLine(name: string, keyHash: number, signature: Uint8Array): string {
  if (!isValidKeyName(name)) fail(ErrorCode.KEY_INVALID, `invalid key name ${JSON.stringify(name)}`);
  return signatureLine(name, keyHash, signature);
}
