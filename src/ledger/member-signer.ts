import { nodeSigner, sha256Node } from '../crypto/node-crypto.js';
import { noteSigner, parseSignerKey } from '../crypto/note.js';
import type { MemberSigner } from './ledger.js';

/**
 * A member's signing identity from its signer key text
 * (`PRIVATE+KEY+<member id>+<hash>+<base64>`). `keyId` is 0 until the key is rotated.
 */
export function memberSigner(signerKey: string, keyId = 0): MemberSigner {
  const { name, seed, keyHash } = parseSignerKey(signerKey);
  const signer = nodeSigner(seed);
  noteSigner(sha256Node, name, signer, keyHash); // checks the key hash
  return { id: name, keyId, signer };
}
