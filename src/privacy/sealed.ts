/**
 * Sealed payloads: confidential text (grant terms, a request's justification,
 * a countersignature's conditions, attribute openings for a grantee) carried
 * in a record, readable only by its named recipients. HPKE (RFC 9180) through
 * `@hpke/core`, with its X25519 KEM and ChaCha20-Poly1305 AEAD modules (the
 * suite of RFC 9180 A.2: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * ChaCha20Poly1305, base mode): the maintained implementation, not a
 * hand-written KEM or key schedule.
 *
 *   content key  32 random bytes, one per payload
 *   commitment   SHA-256(SEALED_KEY_CONTEXT ‖ content key) (the AEAD is not key-committing)
 *   payload      ChaCha20-Poly1305(content key, 12 random nonce bytes, plaintext,
 *                aad = SEALED_AAD ‖ MessagePack [origin, kind, author, binding])
 *   stanza       per recipient: HPKE single-shot seal of the content key to the
 *                recipient's X25519 key, info = SEALED_INFO ‖ MessagePack
 *                [origin, kind, author, member, keyId], aad = the same
 *   keyId        the first 8 bytes of SHA-256 of the recipient's X25519 public key
 *
 * `binding` names the record the payload belongs to (its kind's subject: a
 * grant's id, a request's id, …): a payload or stanza moved to another record,
 * kind or ledger does not open. Pure: WebCrypto and noble, no Node API.
 */
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { checkBytes, concatBytes, equalBytes, show, utf8 } from '../crypto/bytes.js';
import { SEALED_AAD, SEALED_INFO, SEALED_KEY_CONTEXT } from '../crypto/domain.js';
import { pack } from '../encoding/msgpack.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import { fieldsOf } from './attribute-schemas.js';

export const KEY_ID_BYTES = 8;

/** RFC 9180 A.2's suite. */
export function hpkeSuite(): CipherSuite {
  return new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305(),
  });
}
const suite = hpkeSuite();

/** A member's X25519 encryption key pair (the private half stays in its local-only store). */
export interface EncryptionKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export function generateEncryptionKey(): EncryptionKeyPair {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** The key id a stanza names its recipient's key by. */
export function encryptionKeyId(publicKey: Uint8Array): Uint8Array {
  checkBytes(publicKey, 'encryption key');
  if (publicKey.length !== 32) fail(ErrorCode.INVALID_ARGUMENT, 'an X25519 public key is 32 bytes');
  return sha256(publicKey).slice(0, KEY_ID_BYTES);
}

export interface Stanza {
  readonly to: string;
  readonly keyId: Uint8Array;
  /** The HPKE encapsulated key (32 bytes). */
  readonly enc: Uint8Array;
  /** The content key, HPKE-sealed (48 bytes). */
  readonly key: Uint8Array;
}

export interface Sealed {
  readonly stanzas: readonly Stanza[];
  /**
   * SHA-256(SEALED_KEY_CONTEXT ‖ content key): ChaCha20-Poly1305 is not key-committing, so
   * without it a sealer could give two recipients keys that open one ciphertext to two texts.
   */
  readonly commitment: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Where a payload belongs: the ledger, the record kind, its author (the sealer), and the record's subject. */
export interface SealContext {
  readonly origin: string;
  readonly kind: string;
  readonly author: string;
  readonly binding: string;
}

const aadOf = (c: SealContext): Uint8Array =>
  concatBytes(utf8(SEALED_AAD), pack([c.origin, c.kind, c.author, c.binding]));
const infoOf = (c: SealContext, member: string, keyId: Uint8Array): Uint8Array =>
  concatBytes(utf8(SEALED_INFO), pack([c.origin, c.kind, c.author, member, keyId]));
const commitmentOf = (contentKey: Uint8Array): Uint8Array =>
  sha256(concatBytes(utf8(SEALED_KEY_CONTEXT), contentKey));

/** Seals `plaintext` to each recipient (member id and X25519 public key). */
export async function sealPayload(
  context: SealContext,
  plaintext: Uint8Array,
  recipients: ReadonlyArray<{ readonly member: string; readonly publicKey: Uint8Array }>,
): Promise<Sealed> {
  checkBytes(plaintext, 'plaintext');
  if (recipients.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'a sealed payload needs at least one recipient');
  const contentKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const aad = aadOf(context);
  const ciphertext = chacha20poly1305(contentKey, nonce, aad).encrypt(plaintext);
  const stanzas: Stanza[] = [];
  for (const r of recipients) {
    const keyId = encryptionKeyId(r.publicKey);
    const recipientPublicKey = await suite.kem.deserializePublicKey(r.publicKey);
    const sealed = await suite.seal(
      { recipientPublicKey, info: infoOf(context, r.member, keyId) },
      contentKey,
      aad,
    );
    stanzas.push({ to: r.member, keyId, enc: new Uint8Array(sealed.enc), key: new Uint8Array(sealed.ct) });
  }
  const commitment = commitmentOf(contentKey);
  contentKey.fill(0);
  return { stanzas, commitment, nonce, ciphertext };
}

/**
 * Opens a sealed payload as `member` with one of its X25519 key pairs (an old
 * one opens what was sealed to it before a rotation). E_NOT_FOUND when no
 * stanza is for that member and key; E_PROOF_INVALID when it does not open:
 * changed, or moved to another record, kind or ledger.
 */
export async function openPayload(
  context: SealContext,
  sealed: Sealed,
  member: string,
  keys: readonly EncryptionKeyPair[],
): Promise<Uint8Array> {
  const aad = aadOf(context);
  for (const k of keys) {
    const keyId = encryptionKeyId(k.publicKey);
    const stanza = sealed.stanzas.find((s) => s.to === member && equalBytes(s.keyId, keyId));
    if (stanza === undefined) continue;
    let contentKey: Uint8Array;
    try {
      const recipientKey = await suite.kem.importKey('raw', k.privateKey.slice().buffer, false);
      contentKey = new Uint8Array(
        await suite.open(
          { recipientKey, enc: stanza.enc, info: infoOf(context, member, keyId) },
          stanza.key,
          aad,
        ),
      );
    } catch (e) {
      return fail(ErrorCode.PROOF_INVALID, `the sealed payload's stanza for ${member} does not open`, {
        hint: 'it was changed, or belongs to another record',
        cause: e,
      });
    }
    try {
      if (
        !(sealed.commitment instanceof Uint8Array) ||
        !equalBytes(commitmentOf(contentKey), sealed.commitment)
      )
        fail(
          ErrorCode.PROOF_INVALID,
          `the content key ${member}'s stanza gives is not the one the payload commits to`,
        );
      return chacha20poly1305(contentKey, sealed.nonce, aad).decrypt(sealed.ciphertext);
    } catch (e) {
      if (isDirchainError(e)) throw e;
      return fail(ErrorCode.PROOF_INVALID, 'the sealed payload does not open', {
        hint: 'it was changed, or belongs to another record',
        cause: e,
      });
    } finally {
      contentKey.fill(0);
    }
  }
  return fail(
    ErrorCode.NOT_FOUND,
    `nothing in this payload is sealed to ${show(member)} under the keys given`,
    {
      hint: 'a payload sealed before a key rotation opens with the key it was sealed to',
    },
  );
}

/** The record kinds that carry a sealed payload, and the body field naming each one's subject. */
const SEALED_SUBJECT: Readonly<Record<string, string>> = { 'grant.issue': 'id', 'request.open': 'id' };

/** A record's sealed payload and where it belongs (undefined: it carries none). */
export function sealedOf(record: {
  readonly origin: string;
  readonly kind: string;
  readonly author: string;
  readonly body: unknown;
}): { sealed: Sealed; context: SealContext } | undefined {
  const subject = SEALED_SUBJECT[record.kind];
  if (subject === undefined) return undefined;
  const body = fieldsOf(record);
  const s = body?.sealed as Sealed | undefined;
  if (s === undefined || typeof body?.[subject] !== 'string') return undefined;
  return {
    sealed: s,
    context: {
      origin: record.origin,
      kind: record.kind,
      author: record.author,
      binding: body[subject] as string,
    },
  };
}
