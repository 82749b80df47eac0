/**
 * Sealed payloads on the author's and the recipient's side
 * (src/privacy/sealed.ts): a payload sealed to members' current X25519 keys
 * as the ledger knows them, their private keys kept in each member's
 * local-only store (optionally under a passphrase, scrypt), and a record's
 * payload opened with any key its recipient kept (old ones too, after a
 * rotation).
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, toHex, utf8 } from '../crypto/bytes.js';
import { pack, unpackChecked } from '../encoding/msgpack.js';
import { decodeRecord } from '../encoding/record.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import { fieldsOf } from '../privacy/attribute-schemas.js';
import { type DisclosureResult, disclosureFromJSON } from '../privacy/disclosure.js';
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
  author: string,
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
  return sealPayload({ origin, kind, author, binding }, plaintext, recipients);
}

/** A member id may be 128 characters: its file name holds a digest of it (and the value, the id). */
const keyPrefix = (member: string): string => `enc-${toHex(sha256(utf8(member)).subarray(0, 16))}-`;
const keyName = (member: string, publicKey: Uint8Array): string =>
  `${keyPrefix(member)}${toHex(encryptionKeyId(publicKey))}`;

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
  checkPair(pair);
  let value: Uint8Array;
  if (options.passphrase === undefined) value = pack(['raw', pair.publicKey, pair.privateKey, member]);
  else {
    const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const key = scrypt(utf8(options.passphrase), salt, SCRYPT);
    const sealedKey = chacha20poly1305(key, nonce).encrypt(pair.privateKey);
    value = pack(['scrypt', pair.publicKey, salt, SCRYPT.N, nonce, sealedKey, member]);
  }
  await secrets.put(keyName(member, pair.publicKey), value);
}

/** A pair whose halves belong together: a mismatch would later look like a changed payload. */
function checkPair(pair: EncryptionKeyPair): void {
  const ok =
    pair?.privateKey instanceof Uint8Array &&
    pair.privateKey.length === 32 &&
    pair.publicKey instanceof Uint8Array &&
    equalBytes(x25519.getPublicKey(pair.privateKey), pair.publicKey);
  if (!ok)
    fail(ErrorCode.KEY_INVALID, 'the X25519 public key is not the private key’s', {
      hint: 'keep a pair from generateEncryptionKey()',
    });
}

/**
 * Every key pair `member` kept in the store that opens: without a passphrase
 * the unprotected ones, with one those it opens too (a key under another
 * passphrase is skipped). `locked`: protected keys left shut.
 */
async function keysOf(
  secrets: SecretKeeper,
  member: string,
  passphrase: string | undefined,
): Promise<{ keys: EncryptionKeyPair[]; locked: number }> {
  if (secrets.names === undefined) fail(ErrorCode.INTERNAL, 'this secret keeper cannot list its keys');
  const keys: EncryptionKeyPair[] = [];
  let locked = 0;
  for (const name of await secrets.names()) {
    if (!name.startsWith(keyPrefix(member))) continue;
    const v = await secrets.get(name);
    if (v === undefined) continue;
    const [how, publicKey, ...rest] = unpackChecked(v) as [string, Uint8Array, ...unknown[]];
    if (how === 'raw') {
      if (rest[1] === member) keys.push({ publicKey, privateKey: rest[0] as Uint8Array });
      continue;
    }
    const [salt, N, nonce, sealedKey, owner] = rest as [Uint8Array, number, Uint8Array, Uint8Array, string];
    if (owner !== member) continue;
    if (passphrase === undefined) {
      locked++;
      continue;
    }
    try {
      const key = scrypt(utf8(passphrase), salt, { ...SCRYPT, N });
      keys.push({ publicKey, privateKey: chacha20poly1305(key, nonce).decrypt(sealedKey) });
    } catch {
      locked++;
    }
  }
  return { keys, locked };
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
  const { keys, locked } = await keysOf(secrets, member, options.passphrase);
  try {
    return await openPayload(found.context, found.sealed, member, keys);
  } catch (e) {
    if (locked > 0 && isDirchainError(e) && e.code === ErrorCode.NOT_FOUND)
      fail(
        ErrorCode.KEY_INVALID,
        `${member} has ${locked} passphrase-protected key(s) this ${options.passphrase === undefined ? 'call gave no passphrase for' : 'passphrase does not open'}`,
        { hint: 'pass { passphrase } as it was given to keepEncryptionKey' },
      );
    throw e;
  }
}

/**
 * What a grant's sealed payload holds when it carries openings for its
 * consumer: optional text, and a disclosure bundle of the resource's
 * committed attributes bound to the consumer (`dirchain-disclosure/v1`).
 */
export interface GrantOpenings {
  readonly text?: string;
  readonly disclosure: Record<string, unknown>;
}

/** The plaintext of a grant payload with openings (UTF-8 JSON, so any recipient can read it as text too). */
export function grantOpeningsPayload(openings: GrantOpenings): string {
  return JSON.stringify({ type: GRANT_OPENINGS_TYPE, ...openings });
}

export const GRANT_OPENINGS_TYPE = 'dirchain-grant-openings/v1';

/** Reads a grant payload with openings; E_DECODE when it is not one. */
export function parseGrantOpenings(plaintext: Uint8Array): GrantOpenings {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch (e) {
    return fail(ErrorCode.DECODE, 'the sealed payload is not a grant’s openings (not UTF-8 JSON)', {
      cause: e,
    });
  }
  const x = o as { type?: unknown; text?: unknown; disclosure?: unknown };
  if (typeof o !== 'object' || o === null || x.type !== GRANT_OPENINGS_TYPE)
    fail(ErrorCode.DECODE, `the sealed payload is not a ${GRANT_OPENINGS_TYPE}`);
  if (typeof x.disclosure !== 'object' || x.disclosure === null)
    fail(ErrorCode.DECODE, 'the grant’s openings carry no disclosure');
  if (x.text !== undefined && typeof x.text !== 'string')
    fail(ErrorCode.DECODE, 'the openings’ text must be a string');
  return x as GrantOpenings;
}

/**
 * A grant's openings as its consumer reads them: the sealed payload of grant
 * record `index` opened as `member`, its disclosure checked by `verify` (the
 * pinned key: dirchain/verify's `verifyDisclosure`), bound to `member`, and of
 * the grant's own resource.
 */
export async function openGrantOpenings(
  source: InclusionSource,
  secrets: SecretKeeper | undefined,
  index: number,
  member: string,
  verify: (json: unknown) => DisclosureResult,
  options: { passphrase?: string } = {},
): Promise<DisclosureResult & { text?: string }> {
  const grant = decodeRecord((await source.proveInclusion(index)).leaf);
  if (grant.kind !== 'grant.issue') fail(ErrorCode.NOT_FOUND, `record ${index} is not a grant`, { index });
  const terms = fieldsOf(grant) as { resource: string; consumer: string };
  const openings = parseGrantOpenings(await openSealedRecord(source, secrets, index, member, options));
  const result = verify(openings.disclosure);
  const disclosed = decodeRecord(disclosureFromJSON(openings.disclosure).leaf);
  if (!disclosed.kind.startsWith('resource.') || (disclosed.body as { id?: unknown }).id !== terms.resource)
    fail(
      ErrorCode.PROOF_INVALID,
      `grant ${index}'s openings disclose another record than its resource ${terms.resource}`,
    );
  if (result.to?.member !== member)
    fail(
      ErrorCode.PROOF_INVALID,
      `grant ${index}'s openings are bound to ${result.to?.member ?? 'no one'}, not ${member}`,
    );
  return { ...result, ...(openings.text === undefined ? {} : { text: openings.text }) };
}
