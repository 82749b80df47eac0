/**
 * The verifiable status map (src/state/map.ts): updated incrementally, its
 * root equals the root of the whole map computed from scratch (here, by a
 * separate recursive definition, and by an independent Python program);
 * every proof checks and says what the map holds; every tampered proof
 * fails; no proof of presence passes as one of absence or the reverse; no
 * leaf passes as an inner node; an old proof does not pass under a root where
 * the value changed.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equalBytes, toHex } from '../../src/crypto/bytes.js';
import { sha256Node } from '../../src/crypto/node-crypto.js';
import { DirchainError } from '../../src/errors.js';
import {
  bitAt,
  checkMapProof,
  decodeMapProof,
  encodeMapProof,
  type MapNode,
  type MapProof,
  type MapReader,
  mapHasher,
  mapRoot,
  proveMap,
  updateMap,
} from '../../src/state/map.js';

const h = mapHasher(sha256Node);

/** A map in memory: positions (hex) to nodes, as storage keeps the current version. */
class MemoryMap {
  readonly nodes = new Map<string, MapNode>();
  readonly read: MapReader = (pos) => this.nodes.get(toHex(pos));
  set(updates: Array<{ key: Uint8Array; value: Uint8Array }>): Uint8Array {
    const { root, writes } = updateMap(h, this.read, updates);
    for (const [pos, node] of writes) this.nodes.set(toHex(pos), node);
    return root;
  }
  /** A copy: the version as of now. */
  snapshot(): MapReader {
    const copy = new Map(this.nodes);
    return (pos) => copy.get(toHex(pos));
  }
}

/** The root straight from the definition: recursion over all pairs, no stored nodes. */
function rootOf(pairs: Map<string, Uint8Array>): Uint8Array {
  const items = [...pairs].map(([k, v]) => ({ key: Buffer.from(k, 'hex'), value: v }));
  const go = (depth: number, xs: typeof items): Uint8Array => {
    if (xs.length === 0) return h.empty;
    if (xs.length === 1) return h.leaf(xs[0]!.key, xs[0]!.value);
    return h.inner(
      go(
        depth + 1,
        xs.filter((x) => bitAt(x.key, depth) === 0),
      ),
      go(
        depth + 1,
        xs.filter((x) => bitAt(x.key, depth) === 1),
      ),
    );
  };
  return go(0, items);
}

const ids = fc.integer({ min: 0, max: 300 });
const batches = fc.array(fc.array(fc.tuple(ids, fc.nat(5)), { minLength: 0, maxLength: 25 }), {
  minLength: 1,
  maxLength: 12,
});
const keyOf = (id: number) => h.key('grant', `g-${id}`);
const statusHash = (id: number, v: number) => h.value(Uint8Array.of(id & 0xff, id >> 8, v));

/** Plays batches into a map; returns it, the pairs it should hold, and the root after each batch. */
function play(bs: Array<Array<[number, number]>>) {
  const map = new MemoryMap();
  const pairs = new Map<string, Uint8Array>();
  const roots: Uint8Array[] = [];
  const snapshots: MapReader[] = [];
  for (const b of bs) {
    const updates = b.map(([id, v]) => ({ key: keyOf(id), value: statusHash(id, v) }));
    for (const u of updates) pairs.set(toHex(u.key), u.value);
    roots.push(map.set(updates));
    snapshots.push(map.snapshot());
  }
  return { map, pairs, roots, snapshots };
}

describe('status map', () => {
  it('the incremental root is the root of the definition, after every batch', () => {
    fc.assert(
      fc.property(batches, (bs) => {
        const map = new MemoryMap();
        const pairs = new Map<string, Uint8Array>();
        for (const b of bs) {
          const updates = b.map(([id, v]) => ({ key: keyOf(id), value: statusHash(id, v) }));
          for (const u of updates) pairs.set(toHex(u.key), u.value);
          const root = map.set(updates);
          expect(toHex(root)).toBe(toHex(rootOf(pairs)));
          expect(toHex(mapRoot(h, map.read))).toBe(toHex(root));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an empty map has the empty root; an empty batch changes nothing', () => {
    const map = new MemoryMap();
    expect(map.set([])).toEqual(h.empty);
    const root = map.set([{ key: keyOf(1), value: statusHash(1, 0) }]);
    expect(root).toEqual(h.leaf(keyOf(1), statusHash(1, 0)));
    expect(updateMap(h, map.read, [])).toEqual({ root, writes: [] });
  });

  it('every proof checks and says what the map holds, for keys in it and keys not in it', async () => {
    await fc.assert(
      fc.asyncProperty(batches, fc.array(ids, { minLength: 1, maxLength: 20 }), async (bs, asked) => {
        const { map, pairs, roots } = play(bs);
        const root = roots.at(-1)!;
        for (const id of [...asked, ...bs.flat().map(([i]) => i)]) {
          const key = keyOf(id);
          const got = checkMapProof(h, root, key, await proveMap(h, map.read, key));
          const want = pairs.get(toHex(key));
          expect(got).toEqual(want === undefined ? { present: false } : { present: true, value: want });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the binary form round-trips, and a changed byte is refused (E_DECODE) or fails the check, or still tells the truth', async () => {
    let empties = 0;
    await fc.assert(
      fc.asyncProperty(
        batches,
        fc.array(ids, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (bs, asked, at, mask) => {
          const { map, pairs, roots } = play(bs);
          const root = roots.at(-1)!;
          for (const id of asked) {
            const key = keyOf(id);
            const proof = await proveMap(h, map.read, key);
            const bytes = encodeMapProof(h, key, proof);
            empties += proof.siblings.filter((x) => equalBytes(x, h.empty)).length;
            const back = decodeMapProof(h, key, bytes);
            expect(back).toEqual(proof);
            const truth = checkMapProof(h, root, key, proof);
            // One byte changed, or the form cut short or grown by a byte.
            const changed = bytes.slice();
            changed[at % bytes.length]! ^= mask;
            for (const variant of [
              changed,
              bytes.subarray(0, bytes.length - 1),
              Uint8Array.of(...bytes, 0),
            ]) {
              let decoded: MapProof;
              try {
                decoded = decodeMapProof(h, key, variant);
              } catch (e) {
                expect(e).toBeInstanceOf(DirchainError);
                expect((e as DirchainError).code).toBe('E_DECODE');
                continue;
              }
              const got = checkMapProof(h, root, key, decoded);
              if (got !== undefined) expect(got).toEqual(truth);
            }
            const want = pairs.get(toHex(key));
            expect(truth).toEqual(want === undefined ? { present: false } : { present: true, value: want });
          }
        },
      ),
      { numRuns: 300 },
    );
    // Two keys sharing a long prefix leave a path of empty siblings: flagged, not written.
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    b[5] = 1;
    const deep = new MemoryMap();
    const root = deep.set([
      { key: a, value: statusHash(1, 1) },
      { key: b, value: statusHash(2, 1) },
    ]);
    const proof = await proveMap(h, deep.read, a);
    expect(proof.siblings).toHaveLength(48);
    const bytes = encodeMapProof(h, a, proof);
    expect(bytes.length).toBe(2 + 6 + 32 + 32);
    expect(checkMapProof(h, root, a, decodeMapProof(h, a, bytes))).toEqual({
      present: true,
      value: statusHash(1, 1),
    });
    // The empty branch written out instead of flagged is not the encoding.
    const spelled = Uint8Array.of(1, 1, 0, ...h.empty, ...statusHash(1, 1));
    expect(() => decodeMapProof(h, a, spelled)).toThrow(/without its flag/);
    expect(empties).toBeGreaterThan(0);
  });

  it('a proof changed anywhere fails, or still tells the truth', async () => {
    await fc.assert(
      fc.asyncProperty(batches, ids, fc.nat(), fc.nat(255), async (bs, id, where, bit) => {
        const { map, pairs, roots } = play(bs);
        const root = roots.at(-1)!;
        const key = keyOf(id);
        const proof = await proveMap(h, map.read, key);
        const truth = pairs.get(toHex(key));
        // Every 32-byte field, one bit flipped: a sibling, the leaf's key, the leaf's value.
        const fields: Uint8Array[] = [...proof.siblings];
        if (proof.leaf !== undefined) fields.push(proof.leaf.key, proof.leaf.value);
        if (fields.length === 0) {
          expect(proof).toEqual({ siblings: [] }); // the empty map
          return;
        }
        const f = where % fields.length;
        const flip = (b: Uint8Array) => {
          const c = Uint8Array.from(b);
          c[bit >> 3] = c[bit >> 3]! ^ (1 << (bit & 7));
          return c;
        };
        const changed: MapProof =
          f < proof.siblings.length
            ? { ...proof, siblings: proof.siblings.map((s, i) => (i === f ? flip(s) : s)) }
            : f === proof.siblings.length
              ? { ...proof, leaf: { key: flip(proof.leaf!.key), value: proof.leaf!.value } }
              : { ...proof, leaf: { key: proof.leaf!.key, value: flip(proof.leaf!.value) } };
        const got = checkMapProof(h, root, key, changed);
        if (got !== undefined)
          expect(got).toEqual(truth === undefined ? { present: false } : { present: true, value: truth });
        // A sibling dropped or added, or the leaf dropped or added, never verifies (one tree, one path).
        if (proof.siblings.length > 0)
          expect(
            checkMapProof(h, root, key, { ...proof, siblings: proof.siblings.slice(1) }),
          ).toBeUndefined();
        expect(
          checkMapProof(h, root, key, { ...proof, siblings: [h.empty, ...proof.siblings] }),
        ).toBeUndefined();
        if (proof.leaf !== undefined)
          expect(checkMapProof(h, root, key, { siblings: proof.siblings })).toBeUndefined();
        else
          expect(
            checkMapProof(h, root, key, { ...proof, leaf: { key, value: statusHash(id, 0) } }),
          ).toBeUndefined();
        // And under a changed root, nothing.
        expect(checkMapProof(h, flip(root), key, proof)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('presence and absence cannot stand in for each other', async () => {
    await fc.assert(
      fc.asyncProperty(batches, ids, ids, async (bs, a, b) => {
        const { map, pairs, roots } = play(bs);
        const root = roots.at(-1)!;
        const ka = keyOf(a);
        const kb = keyOf(b);
        // A's proof, asked about B: it tells the truth about B or fails.
        const got = checkMapProof(h, root, kb, await proveMap(h, map.read, ka));
        const truthB = pairs.get(toHex(kb));
        if (got !== undefined)
          expect(got).toEqual(truthB === undefined ? { present: false } : { present: true, value: truthB });
        // A key in the map never has a verifying proof of absence: not the empty branch at any depth, nor another leaf.
        if (pairs.has(toHex(ka))) {
          const own = await proveMap(h, map.read, ka);
          for (let depth = 0; depth <= own.siblings.length; depth++) {
            const siblings = own.siblings.slice(0, depth);
            expect(checkMapProof(h, root, ka, { siblings })).toBeUndefined();
            for (const other of pairs.keys()) {
              const leaf = { key: Buffer.from(other, 'hex'), value: pairs.get(other)! };
              if (!equalBytes(leaf.key, ka))
                expect(checkMapProof(h, root, ka, { siblings, leaf })?.present ?? true).toBe(true);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('an inner node cannot be shown as a leaf, nor a leaf as an inner node', async () => {
    const { map, pairs, roots } = play([Array.from({ length: 200 }, (_, i) => [i, 0] as [number, number])]);
    const root = roots[0]!;
    let tried = 0;
    for (const k of pairs.keys()) {
      const key = Buffer.from(k, 'hex');
      const proof = await proveMap(h, map.read, key);
      const d = proof.siblings.length;
      if (d < 2) continue;
      // The inner node one level up is inner(children): present its children as a "leaf".
      const ours = h.leaf(proof.leaf!.key, proof.leaf!.value);
      const sib = proof.siblings[d - 1]!;
      const [l, r] = bitAt(key, d - 1) === 0 ? [ours, sib] : [sib, ours];
      expect(
        checkMapProof(h, root, key, { siblings: proof.siblings.slice(0, d - 1), leaf: { key: l, value: r } }),
      ).toBeUndefined();
      // And the leaf's (key, value) as the two children of an inner node one level down.
      expect(
        checkMapProof(h, root, key, { siblings: [...proof.siblings, proof.leaf!.value] }),
      ).toBeUndefined();
      tried++;
    }
    expect(tried).toBeGreaterThan(100);
  });

  it('a proof made at an earlier root does not pass under a later one where the value changed', async () => {
    await fc.assert(
      fc.asyncProperty(batches, ids, async (bs, id) => {
        const key = keyOf(id);
        const { snapshots, roots } = play([...bs, [[id, 9]]]);
        for (let i = 0; i < roots.length - 1; i++) {
          const old = await proveMap(h, snapshots[i]!, key);
          const before = checkMapProof(h, roots[i]!, key, old);
          expect(before).toBeDefined();
          const later = checkMapProof(h, roots.at(-1)!, key, old);
          const now = { present: true, value: statusHash(id, 9) };
          // Valid later only if it says exactly what is true later.
          if (later !== undefined) expect(later).toEqual(now);
          if (!(before!.present && equalBytes(before!.value, now.value))) expect(later).toBeUndefined();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('matches an independent Python implementation of the same definition', () => {
    const map = new MemoryMap();
    const entries = Array.from({ length: 64 }, (_, i) => [`member`, `dept-${i}`, i] as const);
    const root = map.set(
      entries.map(([type, id, v]) => ({ key: h.key(type, id), value: h.value(Uint8Array.of(v)) })),
    );
    const script = `
import hashlib, json, sys
def H(*parts): return hashlib.sha256(b''.join(parts)).digest()
def fixstr(s):
    b = s.encode(); assert len(b) < 32; return bytes([0xa0 | len(b)]) + b
def key(t, i): return H(b'dirchain/state/key/v1\\n', bytes([0x92]) + fixstr(t) + fixstr(i))
def value(v): return H(b'dirchain/state/value/v1\\n', v)
def leaf(k, v): return H(b'dirchain/state/leaf/v1\\n', k, v)
def inner(l, r): return H(b'dirchain/state/inner/v1\\n', l, r)
EMPTY = H(b'dirchain/state/empty/v1\\n')
def bit(k, d): return (k[d // 8] >> (7 - d % 8)) & 1
def root(d, xs):
    if not xs: return EMPTY
    if len(xs) == 1: return leaf(*xs[0])
    return inner(root(d + 1, [x for x in xs if bit(x[0], d) == 0]), root(d + 1, [x for x in xs if bit(x[0], d) == 1]))
items = [(key(t, i), value(bytes([v]))) for t, i, v in json.load(sys.stdin)]
print(root(0, items).hex())
`;
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(entries), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(toHex(root));
  });
});
