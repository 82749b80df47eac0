/**
 * Committed attributes (DESIGN.md "Privacy-preserving queries"): a record may
 * carry private attributes only as a commitment, the root of a small Merkle
 * tree over one digest per attribute, padded with decoys to a fixed count so
 * the number and order of real attributes are hidden. Pure: no I/O.
 *
 *   salt(name)    = HKDF-SHA256(secret, info = ATTRIBUTE_SALT_INFO ‖ name), 16 bytes
 *   digest        = SHA-256(ATTRIBUTE_DIGEST_CONTEXT ‖ u16 len(name) ‖ name ‖ salt ‖ value)
 *   decoy(i)      = HKDF-SHA256(secret, info = ATTRIBUTE_DECOY_INFO ‖ u16 i), 32 bytes
 *   leaves        = the digests and decoys, sorted bytewise (order says nothing)
 *   node          = SHA-256(ATTRIBUTE_NODE_CONTEXT ‖ left ‖ right), RFC 9162's tree shape
 *   commitment    = the root over `slots` leaves
 *
 * `name` is UTF-8, `value` the canonical MessagePack of a plain value. One
 * secret per record (32 random bytes) makes every salt and decoy: erasing it
 * from the author's local-only store erases every opening, while the root
 * stays on the ledger as evidence. A decoy is an HKDF output, a digest a
 * SHA-256 output: 32 uniform-looking bytes either way.
 *
 * As SD-JWT (RFC 9901) requires of its disclosures: salts of 128 bits, digests
 * never truncated, a name disclosed twice or a digest that appears twice
 * refused, a name the record kind does not declare refused.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { checkBytes, concatBytes, equalBytes, show, utf8 } from '../crypto/bytes.js';
import {
  ATTRIBUTE_DECOY_INFO,
  ATTRIBUTE_DIGEST_CONTEXT,
  ATTRIBUTE_NODE_CONTEXT,
  ATTRIBUTE_SALT_INFO,
} from '../crypto/domain.js';
import type { Sha256 } from '../crypto/sha256.js';
import { type TreeHasher, treeHasher } from '../crypto/tree-hasher.js';
import { checkCanonical } from '../encoding/canonical.js';
import { assertPlain, type Plain, pack, unpackChecked } from '../encoding/msgpack.js';
import { ErrorCode, fail } from '../errors.js';
import { rootFromInclusionProof } from '../merkle/check.js';
import { memoryPath, memoryRoot } from '../merkle/memory-tree.js';

export const SECRET_BYTES = 32;
export const SALT_BYTES = 16;
const HASH = 32;
/** An attribute name: what a schema declares (letters, digits, '.', '_', '-'). */
const NAME = /^[a-zA-Z][a-zA-Z0-9._-]{0,63}$/;

/** What a record kind may commit to: its declared names and the fixed leaf count. */
export interface AttributeSchema {
  readonly names: readonly string[];
  readonly slots: number;
}

/** One attribute as its author keeps it, and as a disclosure reveals it. */
export interface Opening {
  readonly name: string;
  readonly salt: Uint8Array;
  /** The canonical MessagePack of the value: exactly the bytes hashed. */
  readonly value: Uint8Array;
}

/** The hashing of commitments: SHA-256 for digests, the tree's nodes under their own prefix. */
export interface AttributeHasher {
  readonly sha256: Sha256;
  readonly tree: TreeHasher;
}

export function attributeHasher(sha256: Sha256): AttributeHasher {
  const prefix = utf8(ATTRIBUTE_NODE_CONTEXT);
  const buf = new Uint8Array(prefix.length + 2 * HASH);
  buf.set(prefix);
  const node = (left: Uint8Array, right: Uint8Array): Uint8Array => {
    buf.set(left, prefix.length);
    buf.set(right, prefix.length + HASH);
    return sha256(buf);
  };
  return { sha256, tree: treeHasher(sha256, node) };
}

function checkName(name: unknown, what = 'attribute name'): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `${what} ${show(name)} must be 1–64 letters, digits, '.', '_' or '-', starting with a letter`,
    );
}

function checkSecret(secret: Uint8Array): void {
  checkBytes(secret, 'record secret');
  if (secret.length !== SECRET_BYTES)
    fail(ErrorCode.INVALID_ARGUMENT, `a record secret is ${SECRET_BYTES} bytes, not ${secret.length}`);
}

const u16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);

/** The salt of attribute `name` under a record's secret. */
export function attributeSalt(secret: Uint8Array, name: string): Uint8Array {
  checkSecret(secret);
  checkName(name);
  return hkdf(nobleSha256, secret, undefined, concatBytes(utf8(ATTRIBUTE_SALT_INFO), utf8(name)), SALT_BYTES);
}

/** Decoy leaf `i` under a record's secret. */
export function decoyDigest(secret: Uint8Array, i: number): Uint8Array {
  checkSecret(secret);
  return hkdf(nobleSha256, secret, undefined, concatBytes(utf8(ATTRIBUTE_DECOY_INFO), u16(i)), HASH);
}

/** The digest of one opening: what the commitment's tree holds for it. */
export function attributeDigest(h: AttributeHasher, o: Opening): Uint8Array {
  checkName(o.name);
  checkBytes(o.salt, 'salt');
  if (o.salt.length !== SALT_BYTES)
    fail(ErrorCode.INVALID_ARGUMENT, `a salt is ${SALT_BYTES} bytes, not ${o.salt.length}`);
  checkBytes(o.value, 'value');
  const name = utf8(o.name);
  return h.sha256(concatBytes(utf8(ATTRIBUTE_DIGEST_CONTEXT), u16(name.length), name, o.salt, o.value));
}

/** The openings of `attributes` under a record's secret, in name order. */
export function openingsOf(secret: Uint8Array, attributes: Readonly<Record<string, unknown>>): Opening[] {
  const names = Object.keys(attributes).sort();
  return names.map((name) => {
    const value = attributes[name];
    assertPlain(value, `attribute ${name}`);
    const bytes = pack(value as Plain);
    // What cannot be decoded back canonically (a lone surrogate, a __proto__ key) could never be disclosed.
    checkCanonical(bytes, `attribute ${name}`);
    return { name, salt: attributeSalt(secret, name), value: bytes };
  });
}

/** A record's commitment as its author makes it, with what disclosures need. */
export interface Committed {
  readonly root: Uint8Array;
  /** All `slots` leaves, sorted: the tree the root is over. */
  readonly leaves: readonly Uint8Array[];
  readonly openings: readonly Opening[];
}

/**
 * Commits to `attributes` (names the schema declares, plain values) under a
 * record's secret, padded with decoys to the schema's slot count.
 */
export function commitAttributes(
  h: AttributeHasher,
  schema: AttributeSchema,
  secret: Uint8Array,
  attributes: Readonly<Record<string, unknown>>,
): Committed {
  const openings = openingsOf(secret, attributes);
  for (const o of openings)
    if (!schema.names.includes(o.name))
      fail(ErrorCode.SCHEMA, `attribute ${show(o.name)} is not one this record kind declares`, {
        hint: `declared: ${schema.names.join(', ')}`,
      });
  if (openings.length > schema.slots)
    fail(
      ErrorCode.SCHEMA,
      `${openings.length} attributes, more than the ${schema.slots} this record kind commits to`,
    );
  const leaves = openings.map((o) => attributeDigest(h, o));
  for (let i = leaves.length; i < schema.slots; i++) leaves.push(decoyDigest(secret, i));
  leaves.sort(compareBytes);
  for (let i = 1; i < leaves.length; i++)
    if (equalBytes(leaves[i - 1]!, leaves[i]!))
      fail(ErrorCode.INTERNAL, 'two leaves of one commitment are equal');
  return { root: memoryRoot(h.tree, leaves), leaves, openings };
}

/** What a disclosure reveals of one attribute: its opening, its leaf's position and path. */
export interface DisclosedAttribute extends Opening {
  readonly position: number;
  readonly path: readonly Uint8Array[];
}

/** The disclosed attributes `names` of a commitment (each with its path). */
export function discloseAttributes(
  h: AttributeHasher,
  committed: Committed,
  names: readonly string[],
): DisclosedAttribute[] {
  if (new Set(names).size !== names.length) fail(ErrorCode.INVALID_ARGUMENT, 'a name is asked for twice');
  return names.map((name) => {
    const o = committed.openings.find((x) => x.name === name);
    if (o === undefined) fail(ErrorCode.NOT_FOUND, `the record commits to no attribute ${show(name)}`);
    const digest = attributeDigest(h, o);
    const position = committed.leaves.findIndex((l) => equalBytes(l, digest));
    return { ...o, position, path: memoryPath(h.tree, committed.leaves, position) };
  });
}

/**
 * Checks disclosed attributes against a commitment `root` of `schema.slots`
 * leaves: every name declared and disclosed once, every salt 16 bytes, every
 * value one canonical plain value, every digest distinct and its path leading
 * to the root at its position. Returns the values; throws E_PROOF_INVALID
 * (or E_SCHEMA / E_DECODE for a malformed attribute) naming what failed.
 */
export function checkDisclosed(
  h: AttributeHasher,
  schema: AttributeSchema,
  root: Uint8Array,
  disclosed: readonly DisclosedAttribute[],
): Map<string, unknown> {
  checkBytes(root, 'commitment');
  if (root.length !== HASH)
    fail(ErrorCode.PROOF_INVALID, `a commitment is ${HASH} bytes, not ${root.length}`);
  if (disclosed.length > schema.slots)
    fail(
      ErrorCode.PROOF_INVALID,
      `${disclosed.length} attributes disclosed of a ${schema.slots}-leaf commitment`,
    );
  const values = new Map<string, unknown>();
  const digests: Uint8Array[] = [];
  for (const d of disclosed) {
    checkName(d.name);
    if (!schema.names.includes(d.name))
      fail(ErrorCode.SCHEMA, `attribute ${show(d.name)} is not one this record kind declares`);
    if (values.has(d.name)) fail(ErrorCode.PROOF_INVALID, `attribute ${d.name} is disclosed twice`);
    checkCanonical(d.value, `attribute ${d.name}`);
    const digest = attributeDigest(h, d);
    if (digests.some((x) => equalBytes(x, digest)))
      fail(ErrorCode.PROOF_INVALID, `attribute ${d.name} has the digest of another disclosed attribute`);
    const r = rootFromInclusionProof(h.tree, d.position, schema.slots, digest, d.path);
    if (r === undefined || !equalBytes(r, root))
      fail(
        ErrorCode.PROOF_INVALID,
        `attribute ${d.name} is not committed to by the record (its path does not lead to the commitment)`,
      );
    digests.push(digest);
    values.set(d.name, unpackChecked(d.value));
  }
  return values;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
