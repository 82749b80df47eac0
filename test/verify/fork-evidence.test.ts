/**
 * Fork evidence (encoding/evidence.ts) through the one verifier every
 * published bundle goes through (`verifyBundle`, by its `type`): two signed
 * trees of one size with different roots verify as a fork under the log's key
 * and nothing else does.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { BUNDLE_TYPES, inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import { FORK_TYPE, forkEvidenceFromJSON, forkEvidenceToJSON } from '../../src/encoding/evidence.js';
import { createLedger } from '../../src/ledger/open.js';
import { verifyBundle } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let key: string;
let a2: string; // history A at size 2
let b2: string; // history B at size 2
let a4: string; // history A at size 4
let inclusion: unknown;

beforeAll(async () => {
  const dir = tempDir();
  const city = makeCity(1);
  key = city.sequencer.verifierKey;
  const a = await newLedger(`${dir.path}/a`, city);
  const b = await createLedger(`${dir.path}/b`, {
    origin: ORIGIN,
    sequencerKey: city.sequencer.signerKey,
    genesisRecord: a.getEntry(0),
    clock: () => Date.now() + 5000,
  });
  a2 = a.checkpoint(2);
  b2 = b.checkpoint(2);
  await a.append(signedBy(city.departments[0]!, { n: 1 }));
  a4 = a.checkpoint(4);
  inclusion = JSON.parse(JSON.stringify(inclusionBundleToJSON(await a.proveInclusion(2))));
  await Promise.all([a.close(), b.close()]);
  dir.cleanup();
});

const evidence = (checkpoint1: string, checkpoint2: string) =>
  forkEvidenceToJSON({
    origin: ORIGIN,
    checkpoint1,
    checkpoint2,
    source: 'http://x/',
    seenAt: '2026-12-07T20:00:00.000Z',
  });

describe('fork evidence', () => {
  it('two signed trees of one size with different roots verify as a fork', () => {
    const e = evidence(a2, b2);
    expect(e.type).toBe(FORK_TYPE);
    expect(forkEvidenceFromJSON(JSON.parse(JSON.stringify(e)))).toEqual({
      origin: ORIGIN,
      checkpoint1: a2,
      checkpoint2: b2,
      source: 'http://x/',
      seenAt: '2026-12-07T20:00:00.000Z',
    });
    const report = verifyBundle(JSON.stringify(e), [key]);
    expect(report.kind).toBe('fork');
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    expect(report.checks.at(-1)!.detail).toMatch(/two trees of size 2 with different roots/);
  });

  it('is not a fork: the same tree twice, other sizes, another key, another origin', () => {
    const failed = (json: unknown, keys = [key]) => {
      const r = verifyBundle(json, keys);
      expect(r.ok).toBe(false);
      return r.checks.find((c) => c.status === 'fail')!.detail;
    };
    expect(failed(evidence(a2, a2))).toMatch(/^E_PROOF_INVALID: .*same root/);
    expect(failed(evidence(a2, a4))).toMatch(/^E_PROOF_INVALID: .*sizes 2 and 4/);
    expect(failed(evidence(a2, b2), [generateKeyPair(ORIGIN).verifierKey])).toMatch(/^E_BAD_SIGNATURE/);
    expect(failed({ ...evidence(a2, b2), origin: 'another.example/log' })).toMatch(/^E_CHECKPOINT_INVALID/);
    expect(failed({ ...evidence(a2, b2), type: 'dirchain-fork/v9' })).toMatch(
      /^E_DECODE: unknown bundle type/,
    );
  });

  it('any change to either signed note makes it prove nothing (property)', () => {
    const e = evidence(a2, b2);
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 25 }), (first, at, delta) => {
        const note = first ? a2 : b2;
        const i = at % note.length;
        const changed =
          note.slice(0, i) +
          String.fromCharCode(((note.charCodeAt(i) - 32 + delta) % 95) + 32) +
          note.slice(i + 1);
        fc.pre(changed !== note && changed.endsWith('\n'));
        const json = first ? { ...e, checkpoint1: changed } : { ...e, checkpoint2: changed };
        expect(verifyBundle(json, [key]).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('every published bundle carries its type; one without (written before types) still verifies', () => {
    const withType = inclusion as Record<string, unknown>;
    expect(withType.type).toBe(BUNDLE_TYPES.inclusion);
    expect(verifyBundle(withType, [key]).ok).toBe(true);
    const { type: _, ...legacy } = withType;
    expect(verifyBundle(legacy, [key]).ok).toBe(true);
  });
});
