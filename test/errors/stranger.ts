/**
 * What a stranger can hand the public functions: junk of every JS type, and
 * valid inputs with a little changed. Shared by the stranger-input tests; the
 * fixture is one small real ledger's checkpoint, records, batch and bundles.
 */
import fc from 'fast-check';
import { verifyNoble } from '../../src/crypto/ed25519.js';
import { sha256Noble } from '../../src/crypto/sha256.js';
import { ErrorCode, type ErrorCodeValue } from '../../src/errors.js';
import * as main from '../../src/index.js';
import * as tiles from '../../src/merkle/tiles.js';
import * as verify from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

export interface Fixture {
  readonly note: string;
  readonly text: string;
  readonly cosigned: string;
  readonly logKey: string;
  readonly logSignerKey: string;
  readonly witnessKey: string;
  readonly witnessSignerKey: string;
  readonly memberSignerKey: string;
  readonly record: Uint8Array;
  readonly authorKey: Uint8Array;
  readonly signer: main.MemberSigner['signer'];
  readonly event: Uint8Array;
  readonly sealBody: unknown;
  readonly seal: main.LedgerRecord;
  readonly inclusion: main.InclusionBundle;
  readonly eventInclusion: main.InclusionBundle;
  readonly consistency: main.ConsistencyBundle;
  readonly inclusionJSON: main.InclusionBundleJSON;
  readonly eventJSON: main.InclusionBundleJSON;
  readonly consistencyJSON: main.ConsistencyBundleJSON;
  /** A served entry bundle: the record and the event. */
  readonly bundle: Uint8Array;
  /** Terms for approval, and an admin to approve them. */
  readonly proposal: main.Proposal;
  readonly approver: main.MemberSigner;
}

/** A cosignature time (POSIX seconds): 2026-01-01T00:00:00Z. */
const T = 1_767_225_600;

export async function makeFixture(): Promise<Fixture> {
  const dir = tempDir('dirchain-stranger-');
  const city = makeCity(1);
  const d = city.departments[0]!;
  const ledger = await newLedger(dir.path, city, { workers: 0 });
  try {
    const first = await ledger.append(signedBy(d, { n: 1 }));
    const batch = await ledger.submitBatch(d.signer, 'x.log', [{ a: 1 }, { a: 2 }, { a: 3 }]);
    const inclusion = await ledger.proveInclusion(first.index);
    const eventInclusion = await ledger.proveInclusion(batch.first + 1);
    const consistency = await ledger.proveConsistency(1);
    const note = ledger.head().checkpoint;
    const witness = main.generateWitnessKey('witness.example.org/court', new Uint8Array(32).fill(7));
    const seal = main.decodeRecord(ledger.getEntry(batch.seal));
    const record = signedBy(d, { n: 2 });
    const event = ledger.getEntry(batch.first);
    return {
      note,
      text: main.parseNote(note).text,
      cosigned: main.cosignCheckpoint(note, witness.signerKey, {
        logKeys: [city.sequencer.verifierKey],
        time: T,
      }),
      logKey: city.sequencer.verifierKey,
      logSignerKey: city.sequencer.signerKey,
      witnessKey: witness.verifierKey,
      witnessSignerKey: witness.signerKey,
      memberSignerKey: d.key.signerKey,
      record,
      authorKey: d.key.publicKey,
      signer: d.signer.signer,
      event,
      sealBody: seal.body,
      seal,
      inclusion,
      eventInclusion,
      consistency,
      inclusionJSON: main.inclusionBundleToJSON(inclusion),
      eventJSON: main.inclusionBundleToJSON(eventInclusion),
      consistencyJSON: main.consistencyBundleToJSON(consistency),
      bundle: main.encodeEntryBundle([record, event]),
      proposal: ledger.directory.propose(main.KIND.memberSuspend, { member: d.id, reason: 'audit' }),
      approver: main.memberSigner(city.admin.signerKey),
    };
  } finally {
    await ledger.close();
    dir.cleanup();
  }
}

const HUGE = [
  'x'.repeat(1 << 20),
  '\n'.repeat(1 << 16),
  `a+00000000+${'A'.repeat(1 << 20)}`,
  `${ORIGIN}\n1\n${'A'.repeat(1 << 20)}\n\n\u2014 a AAAA\n`,
  `a\n\n${'\u2014 a AAAAAAAA\n'.repeat(1 << 12)}`,
];

/** Any JS value at all, biased to what breaks parsers: null, wrong types, huge strings, random bytes. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({
    maxDepth: 2,
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
  }),
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom<unknown>(
    null,
    undefined,
    0,
    -1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    -0,
    10n,
    '',
    [],
    [null],
    {},
    Object.create(null),
    new Uint8Array(0),
    new Uint8Array(70_000),
    new Uint8ClampedArray(32),
    Symbol('stranger'),
    () => 1,
    true,
    new Date(Number.NaN),
    ...HUGE,
  ),
);

const PIECES = [
  '\n',
  '\n\n',
  '+',
  '\u2014 ',
  ' ',
  '=',
  '==',
  'A',
  '0',
  '\u0000',
  '\t',
  'é',
  '\uD800',
  '-',
  '9999999999999999999',
  'PRIVATE+KEY+',
  'block ',
  'prev ',
  'time ',
  '"',
  '{',
  '[',
  ']',
  '}',
  ',',
  ':',
];

function stringMutant(s: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: s.length }).map((n) => s.slice(0, n)),
    fc
      .tuple(
        fc.nat({ max: s.length }),
        fc.nat({ max: 8 }),
        fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 4 })),
      )
      .map(([at, cut, put]) => s.slice(0, at) + put + s.slice(Math.min(s.length, at + cut))),
    fc.nat({ max: 5 }).map((n) => s.repeat(n)),
  );
}

function bytesMutant(b: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: Math.max(0, b.length) });
  return fc.oneof(
    fc.tuple(at, fc.nat({ max: 7 })).map(([i, bit]) => {
      const c = b.slice();
      if (c.length > 0) c[i % c.length]! ^= 1 << bit;
      return c;
    }),
    at.map((n) => b.slice(0, n)),
    fc
      .tuple(at, fc.uint8Array({ minLength: 1, maxLength: 4 }))
      .map(([i, x]) => Uint8Array.from([...b.subarray(0, i), ...x, ...b.subarray(i)])),
    fc
      .tuple(
        at,
        fc.constantFrom(0x00, 0x7f, 0x80, 0x90, 0x93, 0xc0, 0xc4, 0xc5, 0xc6, 0xcb, 0xd9, 0xdb, 0xff),
      )
      .map(([i, x]) => {
        const c = b.slice();
        if (c.length > 0) c[i % c.length] = x;
        return c;
      }),
  );
}

/** `v` with one thing changed: a character or byte, a field or element replaced, removed or junk. */
export function mutant(v: unknown): fc.Arbitrary<unknown> {
  if (typeof v === 'string') return stringMutant(v);
  if (v instanceof Uint8Array) return bytesMutant(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return fc.array(junk, { maxLength: 3 });
    return fc.oneof(
      fc.tuple(fc.nat({ max: v.length - 1 }), junk).map(([i, x]) => v.map((e, j) => (i === j ? x : e))),
      fc.nat({ max: v.length - 1 }).chain((i) => mutant(v[i]).map((x) => v.map((e, j) => (i === j ? x : e)))),
      fc.nat({ max: v.length }).map((n) => v.slice(0, n)),
    );
  }
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), junk, { maxKeys: 3 });
    const key = fc.constantFrom(...keys);
    return fc.oneof(
      fc.tuple(key, junk).map(([k, x]) => ({ ...o, [k]: x })),
      key.chain((k) => mutant(o[k]).map((x) => ({ ...o, [k]: x }))),
      key.map((k) => {
        const { [k]: _, ...rest } = o;
        return rest;
      }),
      junk.map((x) => ({ ...o, extra: x })),
    );
  }
  return junk;
}

/** One argument: mostly valid or nearly valid, sometimes anything at all. */
export function argument(valid: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constant(valid), weight: 2 },
    { arbitrary: mutant(valid), weight: 4 },
    { arbitrary: junk, weight: 2 },
  );
}

export type AnyFunction = (...args: unknown[]) => unknown;

export interface Target {
  /** `entry.name`, as a test name. */
  readonly name: string;
  readonly fn: AnyFunction;
  /** One valid argument list. */
  readonly valid: (fx: Fixture) => unknown[];
  /** The codes it may throw; 'never' for a function documented never to throw. */
  readonly codes: readonly ErrorCodeValue[] | 'never';
}

const E = ErrorCode;
const f = (fn: unknown) => fn as AnyFunction;
const keyCodes = [E.INVALID_ARGUMENT, E.KEY_INVALID] as const;
const noteCodes = [E.INVALID_ARGUMENT, E.DECODE, E.BAD_SIGNATURE, E.KEY_INVALID] as const;
const checkpointCodes = [...noteCodes, E.CHECKPOINT_INVALID, E.QUORUM] as const;
const recordCodes = [E.INVALID_ARGUMENT, E.DECODE, E.SCHEMA, E.TOO_LARGE] as const;

/** Every public function that takes bytes, text, keys, notes or bundles a stranger could supply. */
export const TARGETS: readonly Target[] = [
  { name: 'parseNote', fn: f(main.parseNote), valid: (x) => [x.note], codes: [E.INVALID_ARGUMENT, E.DECODE] },
  {
    name: 'openNote',
    fn: f(main.openNote),
    valid: (x) => [x.note, verify.parseKeys([x.logKey]), verifyNoble],
    codes: noteCodes,
  },
  {
    name: 'signNote',
    fn: f(main.signNote),
    valid: (x) => [x.text, [main.loadSigner(x.logSignerKey)]],
    codes: [E.INVALID_ARGUMENT, E.DECODE, E.KEY_INVALID],
  },
  {
    name: 'formatVerifierKey',
    fn: f(main.formatVerifierKey),
    valid: (x) => [sha256Noble, 'dept-0', x.authorKey],
    codes: keyCodes,
  },
  {
    name: 'generateKeyPair',
    fn: f(main.generateKeyPair),
    valid: () => ['dept-9', new Uint8Array(32).fill(1)],
    codes: keyCodes,
  },
  { name: 'loadSigner', fn: f(main.loadSigner), valid: (x) => [x.logSignerKey], codes: keyCodes },
  { name: 'loadVerifier', fn: f(main.loadVerifier), valid: (x) => [x.logKey], codes: keyCodes },
  { name: 'memberSigner', fn: f(main.memberSigner), valid: (x) => [x.memberSignerKey, 0], codes: keyCodes },
  { name: 'parseKeys', fn: f(verify.parseKeys), valid: (x) => [[x.logKey]], codes: keyCodes },
  {
    name: 'parseWitnessKeys',
    fn: f(verify.parseWitnessKeys),
    valid: (x) => [[x.witnessKey]],
    codes: keyCodes,
  },
  {
    name: 'loadWitnessVerifier',
    fn: f(main.loadWitnessVerifier),
    valid: (x) => [x.witnessKey],
    codes: keyCodes,
  },
  {
    name: 'generateWitnessKey',
    fn: f(main.generateWitnessKey),
    valid: () => ['witness.example.org/w', new Uint8Array(32).fill(2)],
    codes: keyCodes,
  },
  {
    name: 'cosignCheckpoint',
    fn: f(main.cosignCheckpoint),
    valid: (x) => [x.note, x.witnessSignerKey, { logKeys: [x.logKey], time: 1_767_225_600 }],
    codes: checkpointCodes,
  },
  {
    name: 'verifyCosignatures',
    fn: f(verify.verifyCosignatures),
    valid: (x) => [x.cosigned, { witnesses: [x.witnessKey], quorum: 1 }],
    codes: checkpointCodes,
  },
  {
    name: 'verifyCheckpoint',
    fn: f(verify.verifyCheckpoint),
    valid: (x) => [x.cosigned, [x.logKey], { origin: ORIGIN, witnesses: [x.witnessKey], quorum: 1 }],
    codes: checkpointCodes,
  },
  {
    name: 'verifyRecord',
    fn: f(verify.verifyRecord),
    valid: (x) => [x.record, x.authorKey],
    codes: [...recordCodes, E.BAD_SIGNATURE],
  },
  { name: 'decodeRecord', fn: f(verify.decodeRecord), valid: (x) => [x.record], codes: recordCodes },
  {
    name: 'decodeEvent',
    fn: f(verify.decodeEvent),
    valid: (x) => [x.event],
    codes: [E.INVALID_ARGUMENT, E.DECODE, E.SCHEMA, E.TOO_LARGE],
  },
  { name: 'isEventEntry', fn: f(verify.isEventEntry), valid: (x) => [x.event], codes: 'never' },
  { name: 'parseBatchBody', fn: f(verify.parseBatchBody), valid: (x) => [x.sealBody], codes: [E.SCHEMA] },
  {
    name: 'encodeEvent',
    fn: f(main.encodeEvent),
    valid: () => [3, { a: 1, b: [true, null, 'x'] }],
    codes: [E.INVALID_ARGUMENT, E.SCHEMA, E.TOO_LARGE],
  },
  {
    name: 'eventRecord',
    fn: f(main.eventRecord),
    valid: (x) => [x.seal, 'x.log', main.decodeEvent(x.event)],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'signRecord',
    fn: f(main.signRecord),
    valid: (x) => [
      {
        origin: ORIGIN,
        kind: 'x.t',
        author: 'dept-0',
        keyId: 0,
        timestamp: 1_767_225_600_000,
        body: { a: 1 },
      },
      x.signer,
    ],
    codes: [E.INVALID_ARGUMENT, E.SCHEMA, E.TOO_LARGE],
  },
  {
    name: 'signBatch',
    fn: f(main.signBatch),
    valid: (x) => [
      { origin: ORIGIN, kind: 'x.log', author: 'dept-0', keyId: 0, timestamp: 1_767_225_600_000 },
      [{ a: 1 }, { a: 2 }],
      x.signer,
    ],
    codes: [E.INVALID_ARGUMENT, E.SCHEMA, E.TOO_LARGE],
  },
  {
    name: 'inclusionBundleFromJSON',
    fn: f(verify.inclusionBundleFromJSON),
    valid: (x) => [x.eventJSON],
    codes: [E.DECODE],
  },
  {
    name: 'inclusionBundleFromJSON (text)',
    fn: f(verify.inclusionBundleFromJSON),
    valid: (x) => [JSON.stringify(x.eventJSON)],
    codes: [E.DECODE],
  },
  {
    name: 'consistencyBundleFromJSON',
    fn: f(verify.consistencyBundleFromJSON),
    valid: (x) => [x.consistencyJSON],
    codes: [E.DECODE],
  },
  {
    name: 'inclusionBundleToJSON',
    fn: f(main.inclusionBundleToJSON),
    valid: (x) => [x.eventInclusion],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'consistencyBundleToJSON',
    fn: f(main.consistencyBundleToJSON),
    valid: (x) => [x.consistency],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'parseCheckpoint',
    fn: f(verify.parseCheckpoint),
    valid: (x) => [x.text],
    codes: [E.INVALID_ARGUMENT, E.CHECKPOINT_INVALID],
  },
  {
    name: 'parseBlockHeader',
    fn: f(verify.parseBlockHeader),
    valid: (x) => [x.text],
    codes: [E.INVALID_ARGUMENT, E.CHECKPOINT_INVALID],
  },
  {
    name: 'formatCheckpoint',
    fn: f(verify.formatCheckpoint),
    valid: (x) => [verify.parseCheckpoint(x.text)],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'leafHash (dirchain/verify)',
    fn: f(verify.leafHash),
    valid: (x) => [x.record],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'verifyInclusion (dirchain/verify)',
    fn: f(verify.verifyInclusion),
    valid: (x) => [
      {
        index: x.inclusion.index,
        size: x.inclusion.size,
        leaf: x.inclusion.leaf,
        proof: x.inclusion.inclusion,
        root: x.inclusion.root,
      },
    ],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'verifyConsistency (dirchain/verify)',
    fn: f(verify.verifyConsistency),
    valid: (x) => [
      {
        size1: x.consistency.size1,
        size2: x.consistency.size2,
        root1: x.consistency.root1,
        root2: x.consistency.root2,
        proof: x.consistency.consistency,
      },
    ],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'leafHash (dirchain)',
    fn: f(main.leafHash),
    valid: (x) => [x.record],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'verifyInclusion (dirchain)',
    fn: f(main.verifyInclusion),
    valid: (x) => [
      {
        index: x.inclusion.index,
        size: x.inclusion.size,
        leaf: x.inclusion.leaf,
        proof: x.inclusion.inclusion,
        root: x.inclusion.root,
      },
    ],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'verifyConsistency (dirchain)',
    fn: f(main.verifyConsistency),
    valid: (x) => [
      {
        size1: x.consistency.size1,
        size2: x.consistency.size2,
        root1: x.consistency.root1,
        root2: x.consistency.root2,
        proof: x.consistency.consistency,
      },
    ],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'decodeEntryBundle',
    fn: f(main.decodeEntryBundle),
    valid: (x) => [x.bundle],
    codes: [E.INVALID_ARGUMENT, E.DECODE],
  },
  {
    name: 'encodeEntryBundle',
    fn: f(main.encodeEntryBundle),
    valid: (x) => [[x.record, x.event]],
    codes: [E.INVALID_ARGUMENT, E.TOO_LARGE],
  },
  {
    name: 'parseTilePath',
    fn: f(main.parseTilePath),
    valid: () => ['tile/entries/x001/x234/067.p/8'],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'parseTileIndexPath',
    fn: f(tiles.parseTileIndexPath),
    valid: () => ['x001/x234/067.p/8'],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'tilePath',
    fn: f(main.tilePath),
    valid: () => [{ level: 2, n: 1_234_067, width: 8 }],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'tileIndexPath',
    fn: f(tiles.tileIndexPath),
    valid: () => [1_234_067],
    codes: [E.INVALID_ARGUMENT],
  },
  {
    name: 'approve',
    fn: f(main.approve),
    valid: (x) => [x.proposal, x.approver],
    codes: [E.INVALID_ARGUMENT],
  },
  { name: 'toHex', fn: f(verify.toHex), valid: (x) => [x.authorKey], codes: [E.INVALID_ARGUMENT] },
  { name: 'fromHex', fn: f(verify.fromHex), valid: () => ['00ff10'], codes: [E.INVALID_ARGUMENT, E.DECODE] },
  { name: 'toBase64', fn: f(verify.toBase64), valid: (x) => [x.authorKey], codes: [E.INVALID_ARGUMENT] },
  {
    name: 'fromBase64',
    fn: f(verify.fromBase64),
    valid: () => ['AAECAw=='],
    codes: [E.INVALID_ARGUMENT, E.DECODE],
  },
];

/** The one function documented never to throw; checked separately (its report must be well-formed). */
export const verifyBundleArgs = (x: Fixture): unknown[][] => [
  [x.inclusionJSON, [x.logKey], {}],
  [x.eventJSON, [x.logKey], {}],
  [JSON.stringify(x.consistencyJSON), [x.logKey], {}],
  [x.inclusionJSON, [x.logKey], { witnesses: [x.witnessKey], quorum: 0 }],
];
