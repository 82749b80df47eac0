/**
 * The witness side of C2SP tlog-cosignature/v1: make a witness key, cosign a
 * checkpoint note. A witness must only cosign a checkpoint after checking the
 * log only grew since the last one it cosigned (a consistency proof from its
 * previous checkpoint, see `verifyConsistency`); that bookkeeping is the
 * witness's own. `cosignCheckpoint` does check the log's own signature first,
 * so a witness never vouches for a checkpoint the log did not sign.
 */
import { checkObject, show } from '../crypto/bytes.js';
import {
  ALG_COSIGNATURE_V1,
  cosignedMessage,
  parseWitnessKey,
  timestampedSignature,
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
import { ErrorCode, fail } from '../errors.js';
import { verifyCheckpoint } from '../verify.js';

export interface WitnessKeyPair {
  /** Secret: `PRIVATE+KEY+name+hash+base64(0x04 || seed)`. */
  readonly signerKey: string;
  /** Public, what log clients configure: `name+hash+base64(0x04 || key)`. */
  readonly verifierKey: string;
  readonly publicKey: Uint8Array;
}

/**
 * Makes a new Ed25519 cosignature/v1 witness key named `name` (a schema-less URL such as
 * `witness.example.org/court`). Use it for this one witness only: the v1 message does not
 * commit to the witness name.
 */
export function generateWitnessKey(name: string, seed: Uint8Array = randomSeed()): WitnessKeyPair {
  const signer = nodeSigner(seed);
  if (!isStrongPublicKey(signer.publicKey)) fail(ErrorCode.KEY_INVALID, 'seed gives a weak public key');
  return {
    signerKey: formatTypedSignerKey(sha256Node, name, ALG_COSIGNATURE_V1, seed, signer.publicKey),
    verifierKey: formatTypedVerifierKey(sha256Node, name, ALG_COSIGNATURE_V1, signer.publicKey),
    publicKey: signer.publicKey,
  };
}

/** Parses a witness verifier key (type 0x04). */
export function loadWitnessVerifier(verifierKey: string): NoteVerifier {
  return parseWitnessKey(sha256Node, verifierKey);
}

export interface CosignOptions {
  /** The log's verifier keys: the note must carry a valid signature by the log's origin key. */
  readonly logKeys: ReadonlyArray<string | NoteVerifier>;
  /** POSIX seconds to put in the cosignature; default now. */
  readonly time?: number;
}

/**
 * Returns `note` with one more line: this witness's cosignature over its checkpoint.
 * Any earlier line by the same witness key is replaced, so cosigning again refreshes the time.
 *
 * @example
 *   const w = generateWitnessKey('witness.example.org/court');
 *   const cosigned = cosignCheckpoint(note, w.signerKey, { logKeys: [sequencerVerifierKey] });
 */
export function cosignCheckpoint(note: string, witnessSignerKey: string, o: CosignOptions): string {
  checkObject(o, 'cosign options');
  if (o.time !== undefined && !(Number.isSafeInteger(o.time) && o.time >= 0))
    fail(ErrorCode.INVALID_ARGUMENT, `cosignature time must be whole POSIX seconds ≥ 0, got ${show(o.time)}`);
  verifyCheckpoint(note, o.logKeys);
  const { name, keyHash, seed } = parseTypedSignerKey(
    witnessSignerKey,
    ALG_COSIGNATURE_V1,
    'witness signer key',
  );
  const signer = nodeSigner(seed);
  if (noteKeyHash(sha256Node, name, ALG_COSIGNATURE_V1, signer.publicKey) !== keyHash)
    fail(ErrorCode.KEY_INVALID, 'witness signer key: key hash does not match the key', {
      hint: 'the key text was changed or mistyped',
    });
  const time = o.time ?? Math.floor(Date.now() / 1000);
  const { text, signatures } = parseNote(note);
  const signature = signer.sign(cosignedMessage(text, time));
  let out = `${text}\n`;
  for (const s of signatures)
    if (!(s.name === name && s.keyHash === keyHash))
      out += formatSignatureLine(s.name, s.keyHash, s.signature);
  return out + formatSignatureLine(name, keyHash, timestampedSignature(time, signature));
}
