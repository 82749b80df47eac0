/**
 * Status bundles (`ledger.proveStatus`, `checkStatus` in dirchain/verify):
 * a grant active, revoked, expired (no record written at that moment),
 * on a retired resource, or never issued, each proven at a signed checkpoint
 * and checked offline with the published key alone; the same grant at an
 * earlier checkpoint shows what was true then; any change to a bundle fails.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { blockHeaderOfNote, formatBlockHeader } from '../../src/encoding/checkpoint.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { statusBundleToJSON } from '../../src/state/status-proof.js';
import { checkStatus, verifyBundle } from '../../src/verify.js';
import { type Actors, grantTerms, makeActors, openCity, seed } from '../directory/city.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
const a: Actors = makeActors();
let ledger: Ledger;
let key: string;
/** Tree sizes at block boundaries: before g-3 was revoked, and after. */
let beforeRevocation = 0;

beforeAll(async () => {
  ledger = await openCity(dir.path, a);
  key = a.sequencer.verifierKey;
  await seed(ledger, a);
  const d = ledger.directory;
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1' }));
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-3' }));
  beforeRevocation = ledger.head().size;
  await d.revokeGrant(a.civil.as, 'g-3');
  // Valid for one second: expired by the time a later block is formed.
  await d.issueGrant(
    a.civil.as,
    grantTerms({ id: 'g-short', validFrom: Date.now() - 1000, validTo: Date.now() + 1000 }),
  );
  await d.registerResource(a.health.as, {
    id: 'health/old',
    owner: 'health',
    title: 'Old',
    description: 'old data',
    theme: 'health',
    format: 'csv',
    updateCycle: 'yearly',
    sourceSystem: 's',
    fields: [{ name: 'name', level: 1 }],
    level: 1,
    sharing: 'unconditional',
    opening: 'closed',
  } as never);
  await d.issueGrant(
    a.health.as,
    grantTerms({ id: 'g-old', resource: 'health/old', consumer: 'civil-affairs' }),
  );
  await d.retireResource(a.health.as, 'health/old');
  await new Promise((r) => setTimeout(r, 1100));
  await d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: 1, purpose: 'check' });
});

afterAll(async () => {
  await ledger?.close();
  dir.cleanup();
});

/** The fields of a status bundle's JSON the tampering reaches. */
interface BundleJSON {
  blockEntry: string;
  inclusion: string[];
  items: Array<{ value: string; siblings: string[]; leaf: { key: string; value: string } }>;
}

const json = async (type: string, id: string, size?: number) =>
  JSON.parse(JSON.stringify(statusBundleToJSON(await ledger.proveStatus(type, id, size))));

describe('status bundles', () => {
  it('a grant active, revoked, expired, on a retired resource, or never issued', async () => {
    const head = ledger.head();
    const active = checkStatus(await json('grant', 'g-1'), [key]);
    expect(active).toMatchObject({
      type: 'grant',
      id: 'g-1',
      status: 'active',
      asOf: { size: head.size, height: head.height },
    });
    expect(active.index).toBe(ledger.query.get('grant', 'g-1')!.index);
    // The record a status names is the one that set it: g-3's revocation, not its issue.
    const revoked = checkStatus(await json('grant', 'g-3'), [key]);
    expect(revoked.status).toBe('revoked');
    const revocation = (await ledger.query.recordsByKind('grant.revoke')).items.find(
      (r) => (r.record.body as { id?: string }).id === 'g-3',
    )!;
    expect(revoked.index).toBe(revocation.index);
    expect(revoked.index).toBeGreaterThan(ledger.query.get('grant', 'g-3')!.index);
    expect(checkStatus(await json('grant', 'g-short'), [key]).status).toBe('expired');
    expect(checkStatus(await json('grant', 'g-old'), [key]).status).toBe('retired');
    expect(checkStatus(await json('grant', 'g-none'), [key])).toMatchObject({ status: 'absent' });
    expect(checkStatus(await json('member', 'health'), [key]).status).toBe('active');
    expect(checkStatus(await json('resource', 'health/old'), [key]).status).toBe('retired');
    expect(checkStatus(await json('resource', 'nobody/nothing'), [key]).status).toBe('absent');
  });

  it('at an earlier checkpoint it shows what was true then', async () => {
    const then = checkStatus(await json('grant', 'g-3', beforeRevocation), [key]);
    expect(then).toMatchObject({ status: 'active', asOf: { size: beforeRevocation } });
    // Not a block boundary: no checkpoint to prove at.
    await expect(ledger.proveStatus('grant', 'g-3', beforeRevocation - 1)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });

  it('verifyBundle (dist/verify.js, the browser page) takes it by its type', async () => {
    const b = await json('grant', 'g-1');
    const report = verifyBundle(b, [key]);
    expect(report.kind).toBe('status');
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    expect(report.checks.at(-1)!.detail).toMatch(/^grant "g-1" is active as of size \d+/);
    expect(verifyBundle(b, [generateKeyPair('dirchain.example.gov/city').verifierKey]).ok).toBe(false);
    expect(() => checkStatus(b, [generateKeyPair('dirchain.example.gov/city').verifierKey])).toThrow();
  });

  it('names the entity it proves; a checkpoint whose block lines disagree with its block entry fails', async () => {
    const b = await json('grant', 'g-1');
    expect(checkStatus(b, [key], { expect: { type: 'grant', id: 'g-1' } }).status).toBe('active');
    // A grant's bundle with its resource's item first speaks for the resource: true, but not what was asked.
    const swapped = { ...b, items: [b.items[1], b.items[0], b.items[2]] };
    expect(checkStatus(swapped, [key]).type).toBe('resource');
    expect(() => checkStatus(swapped, [key], { expect: { type: 'grant', id: 'g-1' } })).toThrow(
      expect.objectContaining({
        code: 'E_PROOF_INVALID',
        message: expect.stringContaining('not of grant "g-1"'),
      }),
    );
    // Signed with the sequencer's own key over the same tree, with another block time line.
    const real = blockHeaderOfNote(b.checkpoint).header;
    const relined = signNote(formatBlockHeader({ ...real, time: real.time + 1 }), [
      loadSigner(a.sequencer.signerKey),
    ]);
    expect(() => checkStatus({ ...b, checkpoint: relined }, [key])).toThrow(
      expect.objectContaining({
        code: 'E_CHECKPOINT_INVALID',
        message: expect.stringContaining('block lines'),
      }),
    );
  });

  it('any changed bit, a swapped item, or a dropped dependency fails', async () => {
    const original = await json('grant', 'g-3');
    const fields: Array<(b: BundleJSON) => { get: () => string; set: (v: string) => void }> = [
      (b) => ({ get: () => b.blockEntry, set: (v) => (b.blockEntry = v) }),
      (b) => ({ get: () => b.inclusion[0]!, set: (v) => (b.inclusion[0] = v) }),
      (b) => ({ get: () => b.items[0]!.value, set: (v) => (b.items[0]!.value = v) }),
      (b) => ({ get: () => b.items[0]!.siblings[0]!, set: (v) => (b.items[0]!.siblings[0] = v) }),
      (b) => ({ get: () => b.items[0]!.leaf.key, set: (v) => (b.items[0]!.leaf.key = v) }),
      (b) => ({ get: () => b.items[0]!.leaf.value, set: (v) => (b.items[0]!.leaf.value = v) }),
      (b) => ({ get: () => b.items[1]!.value, set: (v) => (b.items[1]!.value = v) }),
      (b) => ({
        get: () => b.items[2]!.siblings.at(-1)!,
        set: (v) => (b.items[2]!.siblings[b.items[2]!.siblings.length - 1] = v),
      }),
    ];
    fc.assert(
      fc.property(fc.nat(fields.length - 1), fc.nat(), fc.nat(7), (f, at, bit) => {
        const b = structuredClone(original);
        const field = fields[f]!(b);
        const bytes = Buffer.from(field.get(), 'base64');
        bytes[at % bytes.length]! ^= 1 << bit;
        field.set(bytes.toString('base64'));
        expect(() => checkStatus(b, [key])).toThrow();
      }),
      { numRuns: 300 },
    );
    // The proof of g-3 presented as one of g-1, or without its consumer's proof.
    expect(() =>
      checkStatus({ ...original, items: [{ ...original.items[0], id: 'g-1' }, ...original.items.slice(1)] }, [
        key,
      ]),
    ).toThrow();
    expect(() => checkStatus({ ...original, items: original.items.slice(0, 2) }, [key])).toThrow(/member/);
    // A revoked grant's proof cannot claim absence.
    expect(() =>
      checkStatus(
        {
          ...original,
          items: [{ ...original.items[0], value: null, leaf: null }, ...original.items.slice(1)],
        },
        [key],
      ),
    ).toThrow();
  });
});
