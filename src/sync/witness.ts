/**
 * The witness side of C2SP tlog-cosignature: make a witness key, cosign a
 * checkpoint note, with either cosignature type (Ed25519 `cosignature/v1`, the
 * default, or ML-DSA-44 `subtree/v1`, which the spec recommends for new
 * witnesses). A witness must only cosign a checkpoint after checking the log
 * only grew since the last one it cosigned (a consistency proof from its
 * previous checkpoint, see `verifyConsistency`); that bookkeeping is the
 * witness's own. `cosignCheckpoint` does check the log's own signature first,
 * so a witness never vouches for a checkpoint the log did not sign.
 *
 * Signer key text, one format for both types, told apart by the type byte
 * (the vkey's, so the key hash is the cosignature key ID):
 *
 *   PRIVATE+KEY+<name>+<key ID hex>+base64(0x04 || 32-byte Ed25519 seed)
 *   PRIVATE+KEY+<name>+<key ID hex>+base64(0x06 || 32-byte ML-DSA-44 seed ξ)
 *
 * The ML-DSA-44 seed is FIPS 204's key generation seed ξ: ML-DSA.KeyGen_internal(ξ)
 * gives the key pair, as OpenSSL's and Go's seed-form private keys do.
 */
import { checkObject, show } from '../crypto/bytes.js';
import {
  ALG_COSIGNATURE_V1,
  ALG_ML_DSA_44_COSIGNATURE,
  checkCosignerName,
  cosignedMessage,
  mlDsa44KeyPair,
  mlDsa44Sign,
  parseWitnessKey,
  subtreeCosignedMessage,
  timestampedSignature,
  type WitnessKeyType,
  type WitnessVerifier,
  witnessKeyAlg,
  witnessKeyParts,
} from '../crypto/cosignature.js';
import { isStrongPublicKey, randomSeed } from '../crypto/ed25519.js';
import { nodeSigner, sha256Node } from '../crypto/node-crypto.js';
import {
  formatSignatureLine,
  formatTypedSignerKey,
  formatTypedVerifierKey,
  type NoteVerifier,
  noteKeyHash,
  parseNote,
  parseTypedSignerKey,
} from '../crypto/note.js';
import type { Checkpoint } from '../encoding/checkpoint.js';
import { ErrorCode, fail } from '../errors.js';
import { verifyCheckpoint } from '../verify.js';

export interface WitnessKeyPair {
  readonly type: WitnessKeyType;
  /** Secret: `PRIVATE+KEY+name+hash+base64(type byte || seed)`, type byte 0x04 or 0x06. */
  readonly signerKey: string;
  /** Public, what log clients configure: `name+hash+base64(type byte || key)`. */
  readonly verifierKey: string;
  /** 32 bytes (Ed25519) or 1312 bytes (ML-DSA-44). */
  readonly publicKey: Uint8Array;
}

export interface WitnessKeyOptions {
  /** `'ed25519'` (cosignature/v1, the default) or `'ml-dsa-44'`. */
  readonly type?: WitnessKeyType;
  /** 32 random bytes to derive the key from; default fresh ones. */
  readonly seed?: Uint8Array;
}

/**
 * Makes a new witness key named `name` (a schema-less URL such as
 * `witness.example.org/court`): Ed25519 cosignature/v1 unless `{ type: 'ml-dsa-44' }`.
 * The second argument may also be the seed itself. Use an Ed25519 key for this one
 * witness only: the v1 message does not commit to the witness name.
 *
 * @example
 *   const w = generateWitnessKey('witness.example.org/court', { type: 'ml-dsa-44' });
 */
export function generateWitnessKey(
  name: string,
  options: Uint8Array | WitnessKeyOptions = {},
): WitnessKeyPair {
  const o: WitnessKeyOptions = options instanceof Uint8Array ? { seed: options } : options;
  checkObject(o, 'witness key options');
  const type = o.type ?? 'ed25519';
  if (type !== 'ed25519' && type !== 'ml-dsa-44')
    fail(ErrorCode.INVALID_ARGUMENT, `witness key type must be 'ed25519' or 'ml-dsa-44', got ${show(type)}`);
  const seed = o.seed ?? randomSeed();
  if (!(seed instanceof Uint8Array))
    fail(ErrorCode.INVALID_ARGUMENT, `witness key seed: expected 32 bytes, got ${show(seed)}`);
  let publicKey: Uint8Array;
  if (type === 'ml-dsa-44') {
    checkCosignerName(name);
    publicKey = mlDsa44KeyPair(seed).publicKey;
  } else {
    publicKey = nodeSigner(seed).publicKey;
    if (!isStrongPublicKey(publicKey)) fail(ErrorCode.KEY_INVALID, 'seed gives a weak public key');
  }
  const alg = witnessKeyAlg(type);
  return {
    type,
    signerKey: formatTypedSignerKey(sha256Node, name, alg, seed, publicKey),
    verifierKey: formatTypedVerifierKey(sha256Node, name, alg, publicKey),
    publicKey,
  };
}

/** Parses a witness verifier key (type 0x04 Ed25519 or 0x06 ML-DSA-44). */
export function loadWitnessVerifier(verifierKey: string): WitnessVerifier {
  return parseWitnessKey(sha256Node, verifierKey);
}

/** A witness signer key, parsed and checked once: its name, key ID, type and how it signs a checkpoint. */
export interface WitnessSigner {
  readonly name: string;
  readonly keyHash: number;
  readonly type: WitnessKeyType;
  /** The signature (without timestamp) over `checkpoint` at POSIX second `time`. */
  sign(text: string, checkpoint: Checkpoint, time: number): Uint8Array;
}

/** Parses a witness signer key of either type; E_KEY_INVALID if it is malformed or its key hash is not its key's. */
export function loadWitnessSigner(signerKey: string): WitnessSigner {
  const what = 'witness signer key';
  const { alg } = witnessKeyParts(signerKey, what);
  if (alg !== ALG_COSIGNATURE_V1 && alg !== ALG_ML_DSA_44_COSIGNATURE)
    fail(
      ErrorCode.KEY_INVALID,
      `${what}: key type ${alg}, expected ${ALG_COSIGNATURE_V1} (Ed25519 cosignature/v1) or ${ALG_ML_DSA_44_COSIGNATURE} (ML-DSA-44)`,
      { hint: 'give the key file witness keygen wrote' },
    );
  const { name, keyHash, seed } = parseTypedSignerKey(signerKey, alg, what);
  const mismatch = () =>
    fail(ErrorCode.KEY_INVALID, `${what}: key hash does not match the key`, {
      hint: 'the key text was changed or mistyped',
    });
  if (alg === ALG_ML_DSA_44_COSIGNATURE) {
    checkCosignerName(name);
    const pair = mlDsa44KeyPair(seed);
    if (noteKeyHash(sha256Node, name, alg, pair.publicKey) !== keyHash) mismatch();
    return {
      name,
      keyHash,
      type: 'ml-dsa-44',
      sign: (_text, checkpoint, time) =>
        mlDsa44Sign(pair.secretKey, subtreeCosignedMessage(name, time, checkpoint)),
    };
  }
  const signer = nodeSigner(seed);
  if (noteKeyHash(sha256Node, name, alg, signer.publicKey) !== keyHash) mismatch();
  return {
    name,
    keyHash,
    type: 'ed25519',
    sign: (text, _checkpoint, time) => signer.sign(cosignedMessage(text, time)),
  };
}

export interface CosignOptions {
  /** The log's verifier keys: the note must carry a valid signature by the log's origin key. */
  readonly logKeys: ReadonlyArray<string | NoteVerifier>;
  /** POSIX seconds to put in the cosignature; default now. */
  readonly time?: number;
}

/**
 * Returns `note` with one more line: this witness's cosignature over its checkpoint,
 * of the key's type. Any earlier line by the same witness key is replaced, so
 * cosigning again refreshes the time.
 *
 * @example
 *   const w = generateWitnessKey('witness.example.org/court');
 *   const cosigned = cosignCheckpoint(note, w.signerKey, { logKeys: [sequencerVerifierKey] });
 */
export function cosignCheckpoint(note: string, witnessSignerKey: string, o: CosignOptions): string {
  checkObject(o, 'cosign options');
  if (o.time !== undefined && !(Number.isSafeInteger(o.time) && o.time >= 0))
    fail(ErrorCode.INVALID_ARGUMENT, `cosignature time must be whole POSIX seconds ≥ 0, got ${show(o.time)}`);
  const checkpoint = verifyCheckpoint(note, o.logKeys);
  return cosignWith(note, checkpoint, loadWitnessSigner(witnessSignerKey), o.time);
}

/** `cosignCheckpoint` for a signer loaded once (a witness server) and a note whose log signature was checked. */
export function cosignWith(
  note: string,
  checkpoint: Checkpoint,
  signer: WitnessSigner,
  time: number = Math.floor(Date.now() / 1000),
): string {
  const { text, signatures } = parseNote(note);
  const signature = signer.sign(text, checkpoint, time);
  let out = `${text}\n`;
  for (const s of signatures)
    if (!(s.name === signer.name && s.keyHash === signer.keyHash))
      out += formatSignatureLine(s.name, s.keyHash, s.signature);
  return out + formatSignatureLine(signer.name, signer.keyHash, timestampedSignature(time, signature));
}
