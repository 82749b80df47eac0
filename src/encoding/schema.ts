/**
 * A small strict validator for record bodies: every check throws E_SCHEMA with
 * the field's path, unknown fields are refused, and `object` returns a fresh
 * object with its keys in spec order, so anything built from a checked body
 * encodes to the same bytes on every node.
 */
import { isStrongPublicKey } from '../crypto/ed25519.js';
import { ErrorCode, fail } from '../errors.js';
import { MEMBER_ID_PATTERN } from './record.js';

export type Spec<T> = (value: unknown, path: string) => T;

/** Ids of resources, scenarios, requests and grants: member-id characters plus '/'. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export function str(max = 256, min = 1): Spec<string> {
  return (v, path) => {
    if (typeof v !== 'string' || v.length < min || v.length > max) {
      fail(ErrorCode.SCHEMA, `${path} must be a string of ${min}-${max} characters`);
    }
    return v;
  };
}

export const id: Spec<string> = (v, path) => {
  if (typeof v !== 'string' || !ID_PATTERN.test(v))
    fail(ErrorCode.SCHEMA, `${path} must be an id matching ${ID_PATTERN}`);
  return v;
};

/** Member ids: also C2SP key names, so no '/' or '+'. */
export const memberId: Spec<string> = (v, path) => {
  if (typeof v !== 'string' || !MEMBER_ID_PATTERN.test(v)) {
    fail(ErrorCode.SCHEMA, `${path} must be a member id matching ${MEMBER_ID_PATTERN}`);
  }
  return v;
};

export function int(min: number, max: number): Spec<number> {
  return (v, path) => {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      fail(ErrorCode.SCHEMA, `${path} must be an integer in ${min}..${max}`);
    }
    return v as number;
  };
}

/** Milliseconds since the epoch. */
export const time = int(0, Number.MAX_SAFE_INTEGER);

export function oneOf<T extends string>(...values: T[]): Spec<T> {
  return (v, path) => {
    if (!values.includes(v as T)) fail(ErrorCode.SCHEMA, `${path} must be one of ${values.join(', ')}`);
    return v as T;
  };
}

export function list<T>(
  item: Spec<T>,
  opts: { min?: number; max?: number; unique?: boolean } = {},
): Spec<T[]> {
  const { min = 0, max = 1000, unique = false } = opts;
  return (v, path) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) {
      fail(ErrorCode.SCHEMA, `${path} must be a list of ${min}-${max} items`);
    }
    const out = v.map((x, i) => item(x, `${path}[${i}]`));
    if (
      unique &&
      new Set(out.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)))).size !== out.length
    ) {
      fail(ErrorCode.SCHEMA, `${path} has duplicates`);
    }
    return out;
  };
}

/** An Ed25519 public key that is a strong (not small-order, canonical) point. */
export const publicKey: Spec<Uint8Array> = (v, path) => {
  if (!(v instanceof Uint8Array) || !isStrongPublicKey(v)) {
    fail(
      ErrorCode.SCHEMA,
      `${path} must be a valid Ed25519 public key (32 bytes, canonical, not of small order)`,
    );
  }
  return new Uint8Array(v);
};

export function bytes(length?: number): Spec<Uint8Array> {
  return (v, path) => {
    if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
      fail(ErrorCode.SCHEMA, `${path} must be ${length === undefined ? '' : `${length} `}bytes`);
    }
    return new Uint8Array(v);
  };
}

type Out<S> = { [K in keyof S]: S[K] extends Spec<infer T> ? T : never };

/** A map with exactly the `required` keys and any of the `optional` ones, in spec order. */
export function object<
  R extends Record<string, Spec<unknown>>,
  O extends Record<string, Spec<unknown>> = Record<never, never>,
>(required: R, optional?: O): Spec<Out<R> & Partial<Out<O>>> {
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
      fail(ErrorCode.SCHEMA, `${path} must be a map`);
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!Object.hasOwn(required, k) && !(optional && Object.hasOwn(optional, k)))
        fail(ErrorCode.SCHEMA, `${path} has unknown field "${k}"`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(required)) {
      if (!Object.hasOwn(o, k)) fail(ErrorCode.SCHEMA, `${path} is missing field "${k}"`);
      out[k] = spec(o[k], `${path}.${k}`);
    }
    if (optional) {
      for (const [k, spec] of Object.entries(optional))
        if (o[k] !== undefined) out[k] = spec(o[k], `${path}.${k}`);
    }
    return out as Out<R> & Partial<Out<O>>;
  };
}
