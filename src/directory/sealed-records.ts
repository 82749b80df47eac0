/**
 * Sealed payloads on the author's and the recipient's side
 * (src/privacy/sealed.ts): a payload sealed to members' current X25519 keys
 * as the ledger knows them, their private keys kept in each member's
 * local-only store (optionally under a passphrase, scrypt), and a record's
 * payload opened with any key its recipient kept (old ones too, after a
 * rotation).
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { toHex, utf8 } from '../crypto/bytes.js';
import { pack, unpackChecked } from '../encoding/msgpack.js';
import { decodeRecord } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import {
  type EncryptionKeyPair,
  encryptionKeyId,
  openPayload,
  type Sealed,
  sealedOf,
  sealPayload,
} from '../privacy/sealed.js';
import type { InclusionSource } from './private-attributes.js';
import type { SecretKeeper } from './submitter.js';

/** A payload to seal into a record: its text (or bytes) and the members who may read it. */
export interface SealedInput {
  readonly text: string | Uint8Array;
  readonly to: readonly string[];
}

/** Looks up a member's current X25519 key (null: it has none). */
export type EncryptionKeyLookup = (member: string) => Promise<Uint8Array | null | undefined>;

export async function sealFor(
  origin: string,
  kind: string,
  binding: string,
  input: SealedInput,
  keyOf: EncryptionKeyLookup | undefined,
): Promise<Sealed> {
  if (keyOf === undefined) fail(ErrorCode.INTERNAL, 'this ledger cannot look up members’ encryption keys');
  if (!Array.isArray(input.to) || input.to.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'sealed.to must name at least one member');
  const recipients = [];
  for (const member of new Set(input.to)) {
    const publicKey = await keyOf(member);
    if (publicKey === undefined || publicKey === null)
      fail(ErrorCode.KEY_INVALID, `member ${member} has no encryption key to seal to`, {
        hint: 'an admin sets one with directory.rotateKey(…, { encryptionKey })',
      });
    recipients.push({ member, publicKey });
  }
  const plaintext = typeof input.text === 'string' ? utf8(input.text) : input.text;
  return sealPayload({ origin, kind, binding }, plaintext, recipients);
}

const keyName = (member: string, publicKey: Uint8Array): string =>
  `enc-${toHex(utf8(member))}-${toHex(encryptionKeyId(publicKey))}`;
const keyPrefix = (member: string): string => `enc-${toHex(utf8(member))}-`;

/** scrypt parameters for a passphrase-protected key (RFC 7914; N = 2^15, r = 8, p = 1). */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, dkLen: 32 } as const;

/** Keeps a member's X25519 key pair in its local-only store (under a passphrase when given). */
export async function keepEncryptionKey(
  secrets: SecretKeeper | undefined,
  member: string,
  pair: EncryptionKeyPair,
  options: { passphrase?: string } = {},
): Promise<void> {
  if (secrets === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'encryption keys are kept in a local-only store', {
      hint: 'open the ledger (or connect) with { local: <folder> }',
    });
  let value: Uint8Array;
  if (options.passphrase === undefined) value = pack(['raw', pair.publicKey, pair.privateKey]);
  else {
    const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const key = scrypt(utf8(options.passphrase), salt, SCRYPT);
    const sealedKey = chacha20poly1305(key, nonce).encrypt(pair.privateKey);
    value = pack(['scrypt', pair.publicKey, salt, SCRYPT.N, nonce, sealedKey]);
  }
  await secrets.put(keyName(member, pair.publicKey), value);
}

/** Every key pair `member` kept in the store (a passphrase-protected one needs its passphrase). */
async function keysOf(
  secrets: SecretKeeper & { names?: () => Promise<string[]> },
  member: string,
  passphrase: string | undefined,
): Promise<EncryptionKeyPair[]> {
  if (secrets.names === undefined) fail(ErrorCode.INTERNAL, 'this secret keeper cannot list its keys');
  const out: EncryptionKeyPair[] = [];
  for (const name of await secrets.names()) {
    if (!name.startsWith(keyPrefix(member))) continue;
    const v = await secrets.get(name);
    if (v === undefined) continue;
    const [how, publicKey, ...rest] = unpackChecked(v) as [string, Uint8Array, ...unknown[]];
    if (how === 'raw') out.push({ publicKey, privateKey: rest[0] as Uint8Array });
    else if (passphrase !== undefined) {
      const [salt, N, nonce, sealedKey] = rest as [Uint8Array, number, Uint8Array, Uint8Array];
      const key = scrypt(utf8(passphrase), salt, { ...SCRYPT, N });
      try {
        out.push({ publicKey, privateKey: chacha20poly1305(key, nonce).decrypt(sealedKey) });
      } catch (e) {
        fail(
          ErrorCode.KEY_INVALID,
          `the passphrase does not open ${member}'s key ${toHex(encryptionKeyId(publicKey))}`,
          {
            cause: e,
          },
        );
      }
    }
  }
  return out;
}

/** The sealed payload of record `index`, opened as `member` with the keys its local store kept. */
export async function openSealedRecord(
  source: InclusionSource,
  secrets: SecretKeeper | undefined,
  index: number,
  member: string,
  options: { passphrase?: string } = {},
): Promise<Uint8Array> {
  if (secrets === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'sealed payloads are opened with keys from a local-only store', {
      hint: 'open the ledger (or connect) with { local: <folder> }',
    });
  const record = decodeRecord((await source.proveInclusion(index)).leaf);
  const found = sealedOf(record);
  if (found === undefined)
    fail(ErrorCode.NOT_FOUND, `record ${index} (${record.kind}) carries no sealed payload`, { index });
  const keys = await keysOf(secrets, member, options.passphrase);
  return openPayload(found.context, found.sealed, member, keys);
}
