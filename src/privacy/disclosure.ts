/**
 * Disclosure bundles (`dirchain-disclosure/v1`): chosen attributes of a
 * record, with what a stranger needs to check them offline with the published
 * key alone — the record and its inclusion proof at a signed checkpoint, and
 * for each attribute its opening and its path to the record's commitment.
 *
 *   {"type":"dirchain-disclosure/v1","origin","index","size","checkpoint",
 *    "leaf": base64 record, "inclusion": [base64…],
 *    "attributes": [{"name","salt","value","position","path":[base64…]}, …],
 *    "to"?: {"member","time","key","signature"}}
 *
 * `value` is the base64 of the canonical MessagePack the digest covers. `to`
 * binds the disclosure to a recipient: the author's Ed25519 signature, with
 * the key that signed the record, over DISCLOSURE_BINDING_CONTEXT ‖
 * MessagePack [origin, index, SHA-256(leaf), names, member, time], so a
 * disclosure passed on shows whom it was given to. Pure: no I/O.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromBase64, show, toBase64, utf8 } from '../crypto/bytes.js';
import { DISCLOSURE_BINDING_CONTEXT } from '../crypto/domain.js';
import type { Verify } from '../crypto/ed25519.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { pack } from '../encoding/msgpack.js';
import { decodeRecord, verifyRecordSignature } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import { checkInclusion } from '../merkle/check.js';
import { ATTRIBUTE_SCHEMAS, commitmentOf } from './attribute-schemas.js';
import { type AttributeHasher, checkDisclosed, type DisclosedAttribute, SALT_BYTES } from './commitment.js';

export const DISCLOSURE_TYPE = 'dirchain-disclosure/v1';

export interface DisclosureBinding {
  readonly member: string;
  readonly time: number;
  /** The author's public key: the one that signed the record. */
  readonly key: Uint8Array;
  readonly signature: Uint8Array;
}

export interface DisclosureBundle {
  readonly origin: string;
  readonly index: number;
  readonly size: number;
  readonly checkpoint: string;
  /** The record's entry bytes. */
  readonly leaf: Uint8Array;
  readonly inclusion: readonly Uint8Array[];
  readonly attributes: readonly DisclosedAttribute[];
  readonly to?: DisclosureBinding;
}

/** What the author signs to bind a disclosure to its recipient. */
export function bindingMessage(
  origin: string,
  index: number,
  leaf: Uint8Array,
  names: readonly string[],
  member: string,
  time: number,
): Uint8Array {
  return concatBytes(
    utf8(DISCLOSURE_BINDING_CONTEXT),
    pack([origin, index, nobleSha256(leaf), [...names], member, time]),
  );
}

export function disclosureToJSON(b: DisclosureBundle): Record<string, unknown> {
  return {
    type: DISCLOSURE_TYPE,
    origin: b.origin,
    index: b.index,
    size: b.size,
    checkpoint: b.checkpoint,
    leaf: toBase64(b.leaf),
    inclusion: b.inclusion.map(toBase64),
    attributes: b.attributes.map((a) => ({
      name: a.name,
      salt: toBase64(a.salt),
      value: toBase64(a.value),
      position: a.position,
      path: a.path.map(toBase64),
    })),
    ...(b.to === undefined
      ? {}
      : {
          to: {
            member: b.to.member,
            time: b.to.time,
            key: toBase64(b.to.key),
            signature: toBase64(b.to.signature),
          },
        }),
  };
}

const TOP = new Set([
  'type',
  'origin',
  'index',
  'size',
  'checkpoint',
  'leaf',
  'inclusion',
  'attributes',
  'to',
]);
const ATTRIBUTE = new Set(['name', 'salt', 'value', 'position', 'path']);
const BINDING = new Set(['member', 'time', 'key', 'signature']);

/** Reads a disclosure bundle's JSON, strictly: a missing, unknown or mistyped field is E_DECODE. */
export function disclosureFromJSON(o: Record<string, unknown>): DisclosureBundle {
  const bad = (why: string): never => fail(ErrorCode.DECODE, `disclosure bundle ${why}`);
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('must be a JSON object');
  if (o.type !== DISCLOSURE_TYPE) bad(`has type ${show(o.type)}, not ${DISCLOSURE_TYPE}`);
  const fields = (x: unknown, allowed: Set<string>, what: string): Record<string, unknown> => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(`${what} must be an object`);
    for (const k of Object.keys(x as object))
      if (!allowed.has(k)) bad(`${what} has an unknown field ${show(k)}`);
    return x as Record<string, unknown>;
  };
  fields(o, TOP, '');
  const str = (v: unknown, what: string): string =>
    typeof v === 'string' ? v : bad(`${what} must be a string`);
  const count = (v: unknown, what: string): number =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : bad(`${what} must be an integer ≥ 0`);
  const bytes = (v: unknown, what: string): Uint8Array => {
    try {
      return fromBase64(str(v, what));
    } catch (e) {
      return fail(ErrorCode.DECODE, `disclosure bundle ${what} is not valid base64`, { cause: e });
    }
  };
  const list = (v: unknown, what: string): unknown[] =>
    Array.isArray(v) ? [...v] : bad(`${what} must be a list`);
  const attributes = list(o.attributes, 'attributes').map((x, n): DisclosedAttribute => {
    const a = fields(x, ATTRIBUTE, `attributes[${n}]`);
    const name = str(a.name, `attributes[${n}].name`);
    if (!/^[a-zA-Z][a-zA-Z0-9._-]{0,63}$/.test(name))
      bad(`attributes[${n}].name ${show(name)} is not an attribute name`);
    const salt = bytes(a.salt, `attributes[${n}].salt`);
    if (salt.length !== SALT_BYTES) bad(`attributes[${n}].salt is ${salt.length} bytes, not ${SALT_BYTES}`);
    return {
      name,
      salt,
      value: bytes(a.value, `attributes[${n}].value`),
      position: count(a.position, `attributes[${n}].position`),
      path: list(a.path, `attributes[${n}].path`).map((p, k) => bytes(p, `attributes[${n}].path[${k}]`)),
    };
  });
  if (attributes.length === 0) bad('discloses no attribute');
  let to: DisclosureBinding | undefined;
  if (o.to !== undefined) {
    const t = fields(o.to, BINDING, 'to');
    to = {
      member: str(t.member, 'to.member'),
      time: count(t.time, 'to.time'),
      key: bytes(t.key, 'to.key'),
      signature: bytes(t.signature, 'to.signature'),
    };
  }
  return {
    origin: str(o.origin, 'origin'),
    index: count(o.index, 'index'),
    size: count(o.size, 'size'),
    checkpoint: str(o.checkpoint, 'checkpoint'),
    leaf: bytes(o.leaf, 'leaf'),
    inclusion: list(o.inclusion, 'inclusion').map((p, k) => bytes(p, `inclusion[${k}]`)),
    attributes,
    ...(to === undefined ? {} : { to }),
  };
}

/** What a disclosure shows. */
export interface DisclosureResult {
  readonly index: number;
  readonly kind: string;
  readonly author: string;
  /** The disclosed attributes' values, by name. */
  readonly values: Readonly<Record<string, unknown>>;
  /** The recipient the author bound it to, and when. */
  readonly to?: { readonly member: string; readonly time: number };
  readonly asOf: { readonly size: number };
}

/**
 * Checks a disclosure bundle whose checkpoint the caller verified (its size
 * and root given): the record is leaf `index` of that tree, of this ledger,
 * a kind that takes committed attributes and carrying a commitment; each
 * attribute is committed to by it (commitment.ts `checkDisclosed`); a binding,
 * if any, is signed by the key that signed the record. Throws the typed error
 * of the first check that fails.
 */
export function checkDisclosureBundle(
  b: DisclosureBundle,
  checkpoint: { readonly size: number; readonly root: Uint8Array },
  tree: TreeHasher,
  attributes: AttributeHasher,
  verify: Verify,
): DisclosureResult {
  if (b.size !== checkpoint.size)
    fail(
      ErrorCode.PROOF_INVALID,
      `the bundle says size ${b.size}, its checkpoint is of size ${checkpoint.size}`,
    );
  if (!checkInclusion(tree, b.index, b.size, tree.leaf(b.leaf), b.inclusion, checkpoint.root))
    fail(ErrorCode.PROOF_INVALID, `the record is not entry ${b.index} of the checkpoint's tree`);
  const record = decodeRecord(b.leaf);
  if (record.origin !== b.origin)
    fail(ErrorCode.WRONG_ORIGIN, `the record is of ${record.origin}, the bundle of ${b.origin}`);
  const schema = ATTRIBUTE_SCHEMAS[record.kind];
  const root = commitmentOf(record);
  if (schema === undefined || root === undefined)
    fail(ErrorCode.PROOF_INVALID, `record ${b.index} (${record.kind}) commits to no attributes`);
  const values = checkDisclosed(attributes, schema, root, b.attributes);
  const result = {
    index: b.index,
    kind: record.kind,
    author: record.author,
    values: Object.fromEntries(values),
    asOf: { size: b.size },
  };
  if (b.to === undefined) return result;
  const { member, time, key, signature } = b.to;
  if (key.length !== 32 || !verifyRecordSignature(record, key, verify))
    fail(ErrorCode.PROOF_INVALID, `the binding's key is not the one that signed record ${b.index}`);
  const names = b.attributes.map((a) => a.name);
  if (
    signature.length !== 64 ||
    !verify(key, bindingMessage(b.origin, b.index, b.leaf, names, member, time), signature)
  )
    fail(ErrorCode.BAD_SIGNATURE, `the binding to ${member} is not signed by the record's author`);
  return { ...result, to: { member, time } };
}
