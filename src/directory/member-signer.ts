import { checkBytes, checkObject, checkString, equalBytes, show, typeOf } from '../crypto/bytes.js';
import { nodeSigner, sha256Node } from '../crypto/node-crypto.js';
import { noteSigner, parseSignerKey } from '../crypto/note.js';
import { ErrorCode, fail } from '../errors.js';
import type { MemberEntity, StateView } from '../policy/entities.js';
import type { MemberSigner } from './submitter.js';

/**
 * A member's signing identity from its signer key text
 * (`PRIVATE+KEY+<member id>+<hash>+<base64>`). `keyId` is 0 until the key is rotated.
 */
export function memberSigner(signerKey: string, keyId = 0): MemberSigner {
  const { name, seed, keyHash } = parseSignerKey(signerKey);
  checkKeyId(keyId, 'keyId');
  const signer = nodeSigner(seed);
  noteSigner(sha256Node, name, signer, keyHash); // checks the key hash
  return { id: name, keyId, signer };
}

/**
 * Throws E_INVALID_ARGUMENT unless `member` has a MemberSigner's shape: a
 * string id, a keyId ≥ 0, and a signer with a public key and a sign function.
 */
export function checkMemberSigner(member: unknown, what: string): asserts member is MemberSigner {
  checkObject(member, what);
  checkString(member.id, `${what} id`);
  checkKeyId(member.keyId, `${what} keyId`);
  const signer = member.signer;
  checkObject(signer, `${what} signer`);
  checkBytes(signer.publicKey, `${what} public key`);
  if (typeof signer.sign !== 'function')
    fail(ErrorCode.INVALID_ARGUMENT, `${what} signer.sign: expected a function, got ${typeOf(signer.sign)}`);
}

function checkKeyId(keyId: unknown, what: string): void {
  if (!Number.isSafeInteger(keyId) || (keyId as number) < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected a whole number ≥ 0, got ${show(keyId)}`);
}

/**
 * A member's signing identity from its signer key text, with the keyId of the
 * member's current key in the ledger whose state is `view` (rotations append
 * keys, so it may not be 0). A key the member rotated away from is E_UNKNOWN_KEY,
 * naming its old keyId: the policy refuses records signed with it.
 */
export function memberSignerIn(view: StateView, signerKey: string): MemberSigner {
  const s = memberSigner(signerKey);
  return currentKeyOf(s, view.get('member', s.id));
}

/**
 * `signer` with the keyId its key has in `member` (the member's entity as the
 * ledger holds it: from a state view, or a remote node's `query.get`).
 * E_UNKNOWN_MEMBER without an entity, E_UNKNOWN_KEY for a key the member
 * rotated away from (naming the current one) or never had.
 */
export function currentKeyOf(s: MemberSigner, m: MemberEntity | undefined): MemberSigner {
  if (m === undefined) fail(ErrorCode.UNKNOWN_MEMBER, `${s.id} is not a member of this ledger`);
  const current = m.keys[m.activeKeyId];
  // The current key first: a key rotated away from and back to is in `keys` twice.
  if (current !== undefined && equalBytes(current, s.signer.publicKey)) return { ...s, keyId: m.activeKeyId };
  const old = m.keys.findLastIndex((k) => equalBytes(k, s.signer.publicKey));
  if (old >= 0) {
    fail(
      ErrorCode.UNKNOWN_KEY,
      `this is ${s.id}'s key ${old}, no longer current: ${s.id}'s current key is ${m.activeKeyId}`,
      { hint: `sign with ${s.id}'s current signer key (the one its latest key rotation named)` },
    );
  }
  return fail(ErrorCode.UNKNOWN_KEY, `this key is not one of ${s.id}'s keys`);
}
