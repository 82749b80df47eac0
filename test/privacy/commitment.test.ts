/**
 * Committed attributes (src/privacy/commitment.ts): a disclosure of any subset
 * of a record's attributes checks against its commitment and gives their
 * values; a change to any value, salt, name, position or path fails; a name
 * disclosed twice, a digest repeated or a name the schema does not declare is
 * refused; the leaf count is the schema's whatever the attributes; a 4-value
 * attribute cannot be found by trying its 4 values (it can, as a control,
 * without the salt); and the construction matches an independent Python
 * program (HKDF, digests, tree).
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, toHex, utf8 } from '../../src/crypto/bytes.js';
import { ATTRIBUTE_DIGEST_CONTEXT } from '../../src/crypto/domain.js';
import { sha256Node } from '../../src/crypto/node-crypto.js';
import { sha256Noble } from '../../src/crypto/sha256.js';
import { pack } from '../../src/encoding/msgpack.js';
import { DirchainError } from '../../src/errors.js';
import {
  type AttributeSchema,
  attributeDigest,
  attributeHasher,
  attributeSalt,
  checkDisclosed,
  commitAttributes,
  type DisclosedAttribute,
  discloseAttributes,
  SALT_BYTES,
} from '../../src/privacy/commitment.js';

const h = attributeHasher(sha256Node);
const hJs = attributeHasher(sha256Noble);
const schema: AttributeSchema = {
  names: ['conditions', 'purpose', 'fields', 'level', 'notes', 'subject'],
  slots: 8,
};

const plain: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
  fc.constant(null),
);
const attributes = fc
  .subarray([...schema.names], { minLength: 1 })
  .chain((names) => fc.tuple(...names.map((n) => plain.map((v) => [n, v] as const))))
  .map((pairs) => Object.fromEntries(pairs));
const secret = fc.uint8Array({ minLength: 32, maxLength: 32 });

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DirchainError);
    return (e as DirchainError).code;
  }
  return 'accepted';
};

describe('committed attributes', () => {
  it('a disclosure of any subset checks and gives the values; the tree always has the schema’s leaf count', () => {
    fc.assert(
      fc.property(secret, attributes, fc.nat(), (s, attrs, pick) => {
        const c = commitAttributes(h, schema, s, attrs);
        expect(c.leaves).toHaveLength(schema.slots);
        const names = Object.keys(attrs).filter((_, i) => ((pick >> i) & 1) === 1);
        const disclosed = discloseAttributes(h, c, names);
        // The pure-JS hasher (dirchain/verify) agrees with node's.
        const values = checkDisclosed(hJs, schema, c.root, disclosed);
        expect([...values.keys()].sort()).toEqual([...names].sort());
        for (const n of names) expect(values.get(n)).toEqual(attrs[n]);
      }),
      { numRuns: 300 },
    );
  });

  it('a changed value, salt, name, position or path fails; so does one disclosed twice or undeclared', () => {
    fc.assert(
      fc.property(secret, attributes, fc.nat(), fc.integer({ min: 0, max: 6 }), (s, attrs, at, what) => {
        const c = commitAttributes(h, schema, s, attrs);
        const names = Object.keys(attrs);
        const disclosed = discloseAttributes(h, c, names);
        const d = disclosed[at % disclosed.length]!;
        const flip = (b: Uint8Array, i: number): Uint8Array => {
          const x = b.slice();
          x[i % x.length]! ^= 1 << (i % 8);
          return x;
        };
        const other = schema.names.find((n) => !names.includes(n));
        const changed: DisclosedAttribute[] =
          what === 0
            ? [{ ...d, value: flip(d.value, at) }]
            : what === 1
              ? [{ ...d, salt: flip(d.salt, at) }]
              : what === 2
                ? [{ ...d, name: other ?? `${d.name}x` }]
                : what === 3
                  ? [{ ...d, position: (d.position + 1 + (at % 7)) % schema.slots }]
                  : what === 4
                    ? [{ ...d, path: d.path.map((p, i) => (i === at % d.path.length ? flip(p, at) : p)) }]
                    : what === 5
                      ? [d, d]
                      : [{ ...d, name: 'undeclared' }];
        expect(refusal(() => checkDisclosed(h, schema, c.root, changed))).not.toBe('accepted');
        // Untouched, the same disclosure checks.
        expect(checkDisclosed(h, schema, c.root, [d]).get(d.name)).toEqual(attrs[d.name]);
      }),
      { numRuns: 500 },
    );
  });

  it('a disclosure checks against its own record’s commitment only', () => {
    fc.assert(
      fc.property(secret, secret, attributes, (s1, s2, attrs) => {
        fc.pre(!equalBytes(s1, s2));
        const a = commitAttributes(h, schema, s1, attrs);
        const b = commitAttributes(h, schema, s2, attrs);
        const disclosed = discloseAttributes(h, a, Object.keys(attrs));
        expect(refusal(() => checkDisclosed(h, schema, b.root, disclosed))).toBe('E_PROOF_INVALID');
      }),
      { numRuns: 100 },
    );
  });

  it('salts are 128 bits, one per name and secret; the number of real attributes does not show', () => {
    const s = new Uint8Array(32).fill(7);
    expect(attributeSalt(s, 'purpose')).toHaveLength(SALT_BYTES);
    expect(toHex(attributeSalt(s, 'purpose'))).not.toBe(toHex(attributeSalt(s, 'notes')));
    expect(toHex(attributeSalt(s, 'purpose'))).not.toBe(toHex(attributeSalt(new Uint8Array(32), 'purpose')));
    const one = commitAttributes(h, schema, s, { purpose: 'x' });
    const five = commitAttributes(h, schema, s, {
      purpose: 'x',
      notes: 'y',
      level: 3,
      fields: ['a'],
      subject: 's',
    });
    expect(one.leaves).toHaveLength(five.leaves.length);
    for (const c of [one, five])
      for (let i = 1; i < c.leaves.length; i++)
        expect(Buffer.compare(c.leaves[i - 1]!, c.leaves[i]!)).toBeLessThan(0);
    expect(refusal(() => commitAttributes(h, schema, s, { secretField: 1 }))).toBe('E_SCHEMA');
    expect(
      refusal(() => commitAttributes(h, { ...schema, slots: 2 }, s, { purpose: 1, notes: 2, level: 3 })),
    ).toBe('E_SCHEMA');
    expect(refusal(() => commitAttributes(h, schema, new Uint8Array(16), { purpose: 1 }))).toBe(
      'E_INVALID_ARGUMENT',
    );
  });

  it('a 4-value attribute is not found by trying its values with the salt unknown; without a salt it is (the control)', () => {
    fc.assert(
      fc.property(secret, fc.integer({ min: 1, max: 4 }), (s, level) => {
        const c = commitAttributes(h, schema, s, { level, purpose: 'audit' });
        // The attacker sees every leaf (more than the ledger shows: only the root) and tries each value.
        const guess = (salt: Uint8Array, v: number) =>
          c.leaves.some((l) => equalBytes(l, attributeDigest(h, { name: 'level', salt, value: pack(v) })));
        for (const v of [1, 2, 3, 4]) expect(guess(new Uint8Array(SALT_BYTES), v)).toBe(false);
        // The control: the same construction with a salt the attacker knows (as if there were none).
        const known = attributeSalt(s, 'level');
        const found = [1, 2, 3, 4].filter((v) => guess(known, v));
        expect(found).toEqual([level]);
        // And a digest with no salt at all is found among unsalted digests by the same search.
        const unsalted = (v: number) =>
          sha256Node(
            concatBytes(utf8(ATTRIBUTE_DIGEST_CONTEXT), Uint8Array.of(0, 5), utf8('level'), pack(v)),
          );
        const published = unsalted(level);
        expect([1, 2, 3, 4].filter((v) => equalBytes(unsalted(v), published))).toEqual([level]);
      }),
      { numRuns: 50 },
    );
  });

  it('matches an independent Python program (HKDF-SHA256, digests, decoys, the tree)', () => {
    const s = Uint8Array.from({ length: 32 }, (_, i) => i);
    const attrs = { purpose: 'eligibility check', level: 3, fields: ['name', 'spouse'] };
    const c = commitAttributes(h, schema, s, attrs);
    const openings = Object.keys(attrs)
      .sort()
      .map((n) => ({ name: n, value: toHex(pack(attrs[n as keyof typeof attrs])) }));
    const script = `
import hashlib, hmac, json, sys
secret = bytes(range(32)); slots = ${schema.slots}
def hkdf(info, n):
    prk = hmac.new(b"\\0" * 32, secret, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest(); out += t; i += 1
    return out[:n]
leaves = []
for o in json.load(sys.stdin):
    name = o["name"].encode(); salt = hkdf(b"dirchain/attribute/salt/v1\\n" + name, 16)
    leaves.append(hashlib.sha256(b"dirchain/attribute/digest/v1\\n" + len(name).to_bytes(2, "big") + name + salt + bytes.fromhex(o["value"])).digest())
for i in range(len(leaves), slots):
    leaves.append(hkdf(b"dirchain/attribute/decoy/v1\\n" + i.to_bytes(2, "big"), 32))
leaves.sort()
def node(l, r): return hashlib.sha256(b"dirchain/attribute/node/v1\\n" + l + r).digest()
def mth(xs):
    if len(xs) == 1: return xs[0]
    k = 1
    while k * 2 < len(xs): k *= 2
    return node(mth(xs[:k]), mth(xs[k:]))
print(mth(leaves).hex())
`;
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(openings), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(toHex(c.root));
  });
});
