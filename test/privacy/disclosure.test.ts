/**
 * Private attributes end to end (issue 34, item 1), on a real ledger folder
 * and a real local-only store: records committed as they are written, their
 * secrets kept only in the author's local folder (no marker string in any
 * file of the ledger folder), disclosures of chosen attributes checked offline
 * with the published key alone (dirchain/verify), bound to a recipient when
 * asked, refused when anything in them changes; openings that survive a
 * restart and are gone, for good, once erased — while the record and its
 * commitment still verify.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/crypto/bytes.js';
import { DirchainError, isDirchainError } from '../../src/errors.js';
import { createLedger, disclosureToJSON, type Ledger, openLedger } from '../../src/index.js';
import { verifyBundle, verifyDisclosure } from '../../src/verify.js';
import {
  type Actors,
  cityMembers,
  grantTerms,
  makeActors,
  ORIGIN,
  resource,
  seed,
} from '../directory/city.js';
import { flipBit, tempDir } from '../helpers.js';

const a: Actors = makeActors();
const dir = tempDir('dirchain-private-');
const path = join(dir.path, 'ledger');
const local = join(dir.path, 'local');
const MARK = 'MARKER-5c1e9a';
let ledger: Ledger;
let key: string;
let resourceAt = 0;
let grantAt = 0;
let logAt = 0;

const options = () => ({ origin: ORIGIN, sequencerKey: a.sequencer.signerKey, members: cityMembers(a) });

beforeAll(async () => {
  ledger = await createLedger(path, { ...options(), local });
  key = a.sequencer.verifierKey;
  await seed(ledger, a);
  const d = ledger.directory;
  resourceAt = (
    await d.registerResource(a.civil.as, resource('civil-affairs', 'civil/adoption'), {
      attributes: { description: `${MARK}-description`, contact: `${MARK}-contact`, location: 'archive 4' },
    })
  ).index;
  grantAt = (
    await d.issueGrant(a.civil.as, grantTerms({ id: 'g-private', resource: 'civil/marriage' }), {
      attributes: { conditions: `${MARK}-conditions`, legalBasis: 'art. 12' },
    })
  ).index;
  logAt = (
    await d.logAccess(
      a.health.as,
      { grant: 'g-private', fields: ['name'], count: 1, purpose: 'check' },
      { attributes: { subject: `${MARK}-subject` } },
    )
  ).index;
});

afterAll(async () => {
  await ledger?.close();
  dir.cleanup();
});

/** Every file under `root`, recursively. */
function files(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}
const holding = (root: string, text: string): string[] =>
  files(root).filter((f) => readFileSync(f).includes(Buffer.from(text)));

const roundTrip = (b: object): Record<string, unknown> => JSON.parse(JSON.stringify(b));

describe('private attributes and disclosures', () => {
  it('a disclosure of chosen attributes verifies offline with the published key; the others stay hidden', async () => {
    const json = roundTrip(disclosureToJSON(await ledger.disclose(resourceAt, ['description', 'location'])));
    const shown = verifyDisclosure(json, [key]);
    expect(shown).toMatchObject({
      index: resourceAt,
      kind: 'resource.register',
      author: 'civil-affairs',
      values: { description: `${MARK}-description`, location: 'archive 4' },
    });
    expect(JSON.stringify(json)).not.toContain(`${MARK}-contact`);
    const report = verifyBundle(json, [key]);
    expect(report.kind).toBe('disclosure');
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    // A grant's commitment is in its (approved) terms; an access log's in its body.
    expect(
      verifyDisclosure(roundTrip(disclosureToJSON(await ledger.disclose(grantAt, ['conditions']))), [key])
        .values,
    ).toEqual({
      conditions: `${MARK}-conditions`,
    });
    expect(
      verifyDisclosure(roundTrip(disclosureToJSON(await ledger.disclose(logAt, ['subject']))), [key]).values,
    ).toEqual({
      subject: `${MARK}-subject`,
    });
  });

  it('bound to a recipient, it names whom it was given to; the binding cannot be moved or forged', async () => {
    const bound = roundTrip(
      disclosureToJSON(
        await ledger.disclose(grantAt, ['conditions'], {
          to: 'health',
          as: a.civil.as,
          time: 1_765_000_000_000,
        }),
      ),
    );
    expect(verifyDisclosure(bound, [key]).to).toEqual({ member: 'health', time: 1_765_000_000_000 });
    const to = bound.to as Record<string, unknown>;
    for (const changed of [
      { ...to, member: 'public-security' },
      { ...to, time: 1_765_000_000_001 },
      { ...to, signature: toBase64(flipBit(fromBase64(to.signature as string), 3)) },
      { ...to, key: toBase64(a.health.key.publicKey) },
    ])
      expect(() => verifyDisclosure({ ...bound, to: changed }, [key])).toThrow(DirchainError);
    // Only the author binds, with the key that signed the record.
    for (const as of [undefined, a.health.as])
      await expect(
        ledger.disclose(grantAt, ['conditions'], { to: 'health', ...(as ? { as } : {}) }),
      ).rejects.toMatchObject({
        code: 'E_NOT_AUTHORIZED',
      });
  });

  it('any change to a disclosure fails: a value, a salt, a path, the record, its proof, its index', async () => {
    const honest = roundTrip(disclosureToJSON(await ledger.disclose(resourceAt, ['description', 'contact'])));
    const other = roundTrip(disclosureToJSON(await ledger.disclose(grantAt, ['conditions'])));
    const flip64 = (s: string, bit: number) => toBase64(flipBit(fromBase64(s), bit));
    type Attr = { name: string; salt: string; value: string; position: number; path: string[] };
    const tampers: Array<(j: Record<string, unknown>, bit: number) => void> = [
      (j, bit) => {
        const at = (j.attributes as Attr[])[bit % 2]!;
        at.value = flip64(at.value, bit);
      },
      (j, bit) => {
        const at = (j.attributes as Attr[])[bit % 2]!;
        at.salt = flip64(at.salt, bit);
      },
      (j, bit) => {
        const at = (j.attributes as Attr[])[bit % 2]!;
        at.path[bit % at.path.length] = flip64(at.path[bit % at.path.length]!, bit);
      },
      (j, bit) => {
        const at = (j.attributes as Attr[])[bit % 2]!;
        at.position = (at.position + 1 + (bit % 7)) % 8;
      },
      (j, bit) => {
        j.leaf = flip64(j.leaf as string, bit);
      },
      (j, bit) => {
        const inc = j.inclusion as string[];
        inc[bit % inc.length] = flip64(inc[bit % inc.length]!, bit);
      },
      (j) => {
        j.index = (j.index as number) + 1;
      },
      (j) => {
        // Moved to another record: the grant's record and proof, the resource's attributes.
        Object.assign(j, { index: other.index, leaf: other.leaf, inclusion: other.inclusion });
      },
      (j) => {
        (j.attributes as Attr[])[1] = (j.attributes as Attr[])[0]!;
      },
      (j, bit) => {
        (j.attributes as Attr[])[bit % 2]!.name = 'notes';
      },
      (j) => {
        j.extra = true;
      },
    ];
    let tried = 0;
    fc.assert(
      fc.property(fc.nat(tampers.length - 1), fc.nat(4095), (t, bit) => {
        const j = structuredClone(honest);
        tampers[t]!(j, bit);
        tried++;
        try {
          verifyDisclosure(j, [key]);
        } catch (e) {
          expect(isDirchainError(e), String(e)).toBe(true);
          return;
        }
        throw new Error(`tamper ${t} (bit ${bit}) still verified`);
      }),
      { numRuns: 400 },
    );
    expect(tried).toBeGreaterThanOrEqual(400);
    expect(verifyDisclosure(honest, [key]).values).toMatchObject({ description: `${MARK}-description` });
  });

  it('no marker leaves the local-only store; openings survive a restart; erasing one leaves no trace but the record', async () => {
    for (const m of ['description', 'contact', 'conditions', 'subject']) {
      expect(holding(path, `${MARK}-${m}`), m).toEqual([]);
      expect(holding(local, `${MARK}-${m}`), m).toHaveLength(1);
    }
    await ledger.close();
    ledger = await openLedger(path, { sequencerKey: a.sequencer.signerKey, local });
    expect((await ledger.disclose(resourceAt, ['contact'])).attributes[0]!.name).toBe('contact');
    expect(await ledger.eraseOpening(resourceAt)).toBe(true);
    expect(await ledger.eraseOpening(resourceAt)).toBe(false);
    await expect(ledger.disclose(resourceAt, ['contact'])).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(holding(local, `${MARK}-contact`)).toEqual([]);
    expect(holding(local, `${MARK}-description`)).toEqual([]);
    // The record, and so its commitment, still verifies.
    const { inclusionBundleToJSON } = await import('../../src/encoding/bundle.js');
    expect(
      verifyBundle(roundTrip(inclusionBundleToJSON(await ledger.proveInclusion(resourceAt))), [key]).ok,
    ).toBe(true);
  });

  it('refuses undeclared names, a ledger without a local store, and a store inside the ledger folder; a refused record keeps no secret', async () => {
    const d = ledger.directory;
    const before = readdirSync(local).length;
    await expect(
      d.registerResource(a.civil.as, resource('civil-affairs', 'civil/x'), {
        attributes: { secretField: 1 },
      }),
    ).rejects.toMatchObject({ code: 'E_SCHEMA' });
    // The id exists: the policy refuses the record, and its kept opening goes again.
    await expect(
      d.registerResource(a.civil.as, resource('civil-affairs', 'civil/adoption'), {
        attributes: { notes: `${MARK}-refused` },
      }),
    ).rejects.toMatchObject({ code: 'E_DUPLICATE_ID' });
    expect(readdirSync(local)).toHaveLength(before);
    expect(holding(local, `${MARK}-refused`)).toEqual([]);
    const bare = tempDir('dirchain-bare-');
    try {
      const plain = await createLedger(join(bare.path, 'ledger'), options());
      try {
        await expect(
          plain.directory.registerResource(a.civil.as, resource('civil-affairs', 'civil/y'), {
            attributes: { notes: 'n' },
          }),
        ).rejects.toMatchObject({
          code: 'E_INVALID_ARGUMENT',
          message: expect.stringContaining('local-only store'),
        });
        await expect(plain.disclose(1, ['notes'])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      } finally {
        await plain.close();
      }
      await expect(
        createLedger(join(bare.path, 'ledger2'), {
          ...options(),
          local: join(bare.path, 'ledger2', 'secrets'),
        }),
      ).rejects.toMatchObject({
        code: 'E_INVALID_ARGUMENT',
        message: expect.stringContaining('inside the ledger folder'),
      });
    } finally {
      bare.cleanup();
    }
  });
});
