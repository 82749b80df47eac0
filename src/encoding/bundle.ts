/**
 * Proof bundles as JSON: a published format that auditors' scripts in other
 * languages read, so field names and encodings never change. Hashes, entries
 * and proof elements are standard base64; checkpoints are signed-note text.
 *
 * Inclusion:   {"origin","index","size","leaf","inclusion":[...],"root","checkpoint"}
 *              plus, when the leaf is an event of a batch, "attribution":
 *              {"sealIndex","seal","sealInclusion":[...],"position","path":[...],"authorKey"}
 * Consistency: {"size1","size2","root1","root2","consistency":[...]}
 *              plus "origin", "checkpoint1", "checkpoint2" when known.
 */
import {
  checkArray,
  checkBytes,
  checkObject,
  checkString,
  fromBase64,
  show,
  toBase64,
} from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';

export interface InclusionBundleJSON {
  type?: 'dirchain-inclusion/v1';
  origin: string;
  index: number;
  size: number;
  leaf: string;
  inclusion: string[];
  root: string;
  checkpoint: string;
  attribution?: AttributionJSON;
}

export interface AttributionJSON {
  sealIndex: number;
  seal: string;
  sealInclusion: string[];
  position: number;
  path: string[];
  authorKey: string;
}

export interface AttributionBytes {
  sealIndex: number;
  seal: Uint8Array;
  sealInclusion: Uint8Array[];
  position: number;
  path: Uint8Array[];
  authorKey: Uint8Array;
}

export interface ConsistencyBundleJSON {
  type?: 'dirchain-consistency/v1';
  origin?: string;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  consistency: string[];
  checkpoint1?: string;
  checkpoint2?: string;
}

export interface InclusionBundleBytes {
  origin: string;
  index: number;
  size: number;
  leaf: Uint8Array;
  inclusion: Uint8Array[];
  root: Uint8Array;
  checkpoint: string;
  attribution?: AttributionBytes;
}

export interface ConsistencyBundleBytes {
  origin?: string;
  size1: number;
  size2: number;
  root1: Uint8Array;
  root2: Uint8Array;
  consistency: Uint8Array[];
  checkpoint1?: string;
  checkpoint2?: string;
}

/** Throws E_INVALID_ARGUMENT unless `n` is a non-negative safe integer. */
function checkCount(n: unknown, what: string): asserts n is number {
  if (!isCount(n))
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected a non-negative integer, got ${show(n)}`);
}

/** Bytes as base64; E_INVALID_ARGUMENT, naming the field, unless they are a Uint8Array. */
function base64Of(bytes: Uint8Array, what: string): string {
  checkBytes(bytes, what);
  return toBase64(bytes);
}

/** Each hash of a proof as base64; E_INVALID_ARGUMENT unless it is a list of byte strings. */
function base64List(list: readonly Uint8Array[], what: string): string[] {
  checkArray(list, what);
  return Array.from(list, (h, i) => base64Of(h, `${what}[${i}]`));
}

export function inclusionBundleToJSON(b: InclusionBundleBytes): InclusionBundleJSON {
  checkObject(b, 'inclusion bundle');
  checkString(b.origin, 'origin');
  checkCount(b.index, 'index');
  checkCount(b.size, 'size');
  checkString(b.checkpoint, 'checkpoint');
  return {
    type: BUNDLE_TYPES.inclusion,
    origin: b.origin,
    index: b.index,
    size: b.size,
    leaf: base64Of(b.leaf, 'leaf'),
    inclusion: base64List(b.inclusion, 'inclusion'),
    root: base64Of(b.root, 'root'),
    checkpoint: b.checkpoint,
    ...(b.attribution === undefined ? {} : { attribution: attributionToJSON(b.attribution) }),
  };
}

export function attributionToJSON(a: AttributionBytes): AttributionJSON {
  checkObject(a, 'attribution');
  checkCount(a.sealIndex, 'sealIndex');
  checkCount(a.position, 'position');
  return {
    sealIndex: a.sealIndex,
    seal: base64Of(a.seal, 'seal'),
    sealInclusion: base64List(a.sealInclusion, 'sealInclusion'),
    position: a.position,
    path: base64List(a.path, 'path'),
    authorKey: base64Of(a.authorKey, 'authorKey'),
  };
}

function attributionFromJSON(json: unknown): AttributionBytes {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    fail(ErrorCode.DECODE, 'bundle field "attribution" must be an object');
  const o = json as Obj;
  return {
    sealIndex: field(o, 'sealIndex', isCount, 'a non-negative integer'),
    seal: b64(o, 'seal'),
    sealInclusion: b64List(o, 'sealInclusion'),
    position: field(o, 'position', isCount, 'a non-negative integer'),
    path: b64List(o, 'path'),
    authorKey: b64(o, 'authorKey'),
  };
}

export function consistencyBundleToJSON(b: ConsistencyBundleBytes): ConsistencyBundleJSON {
  checkObject(b, 'consistency bundle');
  if (b.origin !== undefined) checkString(b.origin, 'origin');
  checkCount(b.size1, 'size1');
  checkCount(b.size2, 'size2');
  if (b.checkpoint1 !== undefined) checkString(b.checkpoint1, 'checkpoint1');
  if (b.checkpoint2 !== undefined) checkString(b.checkpoint2, 'checkpoint2');
  return {
    type: BUNDLE_TYPES.consistency,
    ...(b.origin === undefined ? {} : { origin: b.origin }),
    size1: b.size1,
    size2: b.size2,
    root1: base64Of(b.root1, 'root1'),
    root2: base64Of(b.root2, 'root2'),
    consistency: base64List(b.consistency, 'consistency'),
    ...(b.checkpoint1 === undefined ? {} : { checkpoint1: b.checkpoint1 }),
    ...(b.checkpoint2 === undefined ? {} : { checkpoint2: b.checkpoint2 }),
  };
}

type Obj = Record<string, unknown>;

function field<T>(o: Obj, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!check(v)) fail(ErrorCode.DECODE, `bundle field "${name}" must be ${what}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && Array.from(v).every(isString);

function b64(o: Obj, name: string): Uint8Array {
  const text = field(o, name, isString, 'a base64 string');
  try {
    return fromBase64(text);
  } catch {
    return fail(ErrorCode.DECODE, `bundle field "${name}" is not valid base64`);
  }
}

function b64List(o: Obj, name: string): Uint8Array[] {
  return field(o, name, isStrings, 'a list of base64 strings').map((s, i) => {
    try {
      return fromBase64(s);
    } catch {
      return fail(ErrorCode.DECODE, `bundle field "${name}"[${i}] is not valid base64`);
    }
  });
}

export function parseBundleObject(json: unknown): Obj {
  const o = typeof json === 'string' ? safeParse(json) : json;
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    fail(ErrorCode.DECODE, 'a bundle must be a JSON object');
  return o as Obj;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(ErrorCode.DECODE, `bundle is not valid JSON: ${(e as Error).message}`);
  }
}

/** The `type` each published bundle carries, so one verifier takes any of them (fork evidence: evidence.ts). */
export const BUNDLE_TYPES = {
  inclusion: 'dirchain-inclusion/v1',
  consistency: 'dirchain-consistency/v1',
  fork: 'dirchain-fork/v1',
  replay: 'dirchain-replay/v1',
  status: 'dirchain-status/v1',
  disclosure: 'dirchain-disclosure/v1',
} as const;

/** What a bundle is: by its `type`, or for one written before bundles had a type, by its fields. */
export function bundleKind(o: Obj): keyof typeof BUNDLE_TYPES {
  if (o.type !== undefined) {
    const kind = (Object.keys(BUNDLE_TYPES) as Array<keyof typeof BUNDLE_TYPES>).find(
      (k) => BUNDLE_TYPES[k] === o.type,
    );
    if (kind === undefined)
      fail(ErrorCode.DECODE, `unknown bundle type ${show(o.type)}`, {
        hint: `this verifier knows ${Object.values(BUNDLE_TYPES).join(', ')}`,
      });
    return kind;
  }
  if ('inclusion' in o) return 'inclusion';
  if ('consistency' in o) return 'consistency';
  return fail(ErrorCode.DECODE, 'bundle has neither a "type" nor an "inclusion" or "consistency" field');
}

export function inclusionBundleFromJSON(json: unknown): InclusionBundleBytes {
  const o = parseBundleObject(json);
  return {
    origin: field(o, 'origin', isString, 'a string'),
    index: field(o, 'index', isCount, 'a non-negative integer'),
    size: field(o, 'size', isCount, 'a non-negative integer'),
    leaf: b64(o, 'leaf'),
    inclusion: b64List(o, 'inclusion'),
    root: b64(o, 'root'),
    checkpoint: field(o, 'checkpoint', isString, 'signed-note text'),
    ...(o.attribution === undefined ? {} : { attribution: attributionFromJSON(o.attribution) }),
  };
}

export function consistencyBundleFromJSON(json: unknown): ConsistencyBundleBytes {
  const o = parseBundleObject(json);
  const optional = (name: string) =>
    o[name] === undefined ? {} : { [name]: field(o, name, isString, 'a string') };
  return {
    ...optional('origin'),
    size1: field(o, 'size1', isCount, 'a non-negative integer'),
    size2: field(o, 'size2', isCount, 'a non-negative integer'),
    root1: b64(o, 'root1'),
    root2: b64(o, 'root2'),
    consistency: b64List(o, 'consistency'),
    ...optional('checkpoint1'),
    ...optional('checkpoint2'),
  };
}
