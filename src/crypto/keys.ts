/**
 * Key material in one text format everywhere: C2SP signed-note keys.
 * A signer key `PRIVATE+KEY+<name>+<hash>+<base64>` is what a member or the
 * sequencer keeps secret; its verifier key `<name>+<hash>+<base64>` is what
 * they publish. For members, <name> is the member id.
 */
import { randomSeed } from './ed25519.js';
import { nodeSigner, sha256Node } from './node-crypto.js';
import {
  formatSignerKey,
  formatVerifierKey,
  type NoteSigner,
  type NoteVerifier,
  noteSigner,
  parseSignerKey,
  parseVerifierKey,
} from './note.js';

export interface KeyPair {
  /** Secret: `PRIVATE+KEY+name+hash+base64`. */
  readonly signerKey: string;
  /** Public: `name+hash+base64`. */
  readonly verifierKey: string;
  readonly publicKey: Uint8Array;
}

/** Makes a new Ed25519 key named `name` (a ledger origin or a member id). */
export function generateKeyPair(name: string, seed: Uint8Array = randomSeed()): KeyPair {
  const signer = nodeSigner(seed);
  return {
    signerKey: formatSignerKey(sha256Node, name, seed, signer.publicKey),
    verifierKey: formatVerifierKey(sha256Node, name, signer.publicKey),
    publicKey: signer.publicKey,
  };
}

/** Loads a signer key (node's native Ed25519 behind it). */
export function loadSigner(signerKey: string): NoteSigner {
  const { name, seed, keyHash } = parseSignerKey(signerKey);
  return noteSigner(sha256Node, name, nodeSigner(seed), keyHash);
}

export function loadVerifier(verifierKey: string): NoteVerifier {
  return parseVerifierKey(sha256Node, verifierKey);
}
