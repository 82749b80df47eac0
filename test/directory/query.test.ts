import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildState } from '../../src/chain/rebuild.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { toHex } from '../../src/crypto/bytes.js';
import { inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { entityKey } from '../../src/storage/state-table.js';
import { verifyBundle } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { type Actors, DAY, grantTerms, makeActors, openCity, resource, seed } from './city.js';

const dir = tempDir();
const a: Actors = makeActors();
let ledger: Ledger;
let revokedAt = 0;

beforeAll(async () => {
  ledger = await openCity(dir.path, a);
  await seed(ledger, a);
  const d = ledger.directory;
  // 40 more resources over three departments, two themes.
  await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const [who, owner] = [
        [a.health, 'health'],
        [a.ps, 'public-security'],
        [a.civil, 'civil-affairs'],
      ][i % 3] as [Actors['health'], string];
      return d.registerResource(
        who.as,
        resource(owner, `${owner}/set-${String(i).padStart(2, '0')}`, {
          theme: i % 2 === 0 ? 'population' : 'transport',
          title: i === 7 ? 'Bus pass holders by district' : `Dataset ${i}`,
          level: Math.max(1 + (i % 4), 3),
          sharing: i % 5 === 0 ? 'none' : 'unconditional',
        }),
      );
    }),
  );
  await d.updateResource(
    a.civil.as,
    resource('civil-affairs', 'civil/marriage', {
      level: 2,
      title: 'Marriage v2',
      fields: [
        { name: 'name', level: 1 },
        { name: 'spouse', level: 2 },
      ],
    }),
  );
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1' }));
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-2', consumer: 'public-security' }));
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-3' }));
  for (let i = 0; i < 25; i++)
    await d.logAccess(a.health.as, {
      grant: i % 2 ? 'g-1' : 'g-3',
      fields: ['name'],
      count: i + 1,
      purpose: 'check',
    });
  await d.logAccess(a.ps.as, { grant: 'g-2', fields: ['name'], count: 1, purpose: 'check' });
  await d.revokeGrant(a.civil.as, 'g-3');
  revokedAt = ledger.query.get('grant', 'g-3')!.revokedAt!;
  await d.openRequest(a.civil.as, {
    id: 'r-1',
    provider: 'health',
    resource: 'health/records',
    fields: ['name'],
    scenario: 'social-assistance',
    purpose: 'p',
  });
  await d.openRequest(a.ps.as, {
    id: 'r-2',
    provider: 'health',
    resource: 'health/records',
    fields: ['name'],
    scenario: 'social-assistance',
    purpose: 'p',
  });
  await d.answerRequest(a.health.as, 'r-2', { decision: 'refused', reason: 'no basis' });
  // A need list answered by the grant that names it (in the same record).
  await d.openRequest(a.civil.as, {
    id: 'r-3',
    provider: 'health',
    resource: 'health/records',
    fields: ['name'],
    scenario: 'social-assistance',
    purpose: 'p',
  });
  await d.issueGrant(
    a.health.as,
    grantTerms({ id: 'g-4', consumer: 'civil-affairs', resource: 'health/records', request: 'r-3' }),
  );
});
afterAll(async () => {
  await ledger.close();
  dir.cleanup();
});

async function all<T>(
  fetch: (cursor?: string) => Promise<{ items: T[]; cursor?: string }> | { items: T[]; cursor?: string },
) {
  const out: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await fetch(cursor);
    out.push(...page.items);
    cursor = page.cursor;
    pages++;
  } while (cursor !== undefined);
  return { items: out, pages };
}

describe('directory queries', () => {
  it('searches by department, theme, level, sharing and text, paginating without gaps or repeats', async () => {
    const q = ledger.query;
    const everything = q.searchResources({}, { limit: 1000 }).items;
    expect(everything).toHaveLength(44); // 4 seeded + 40
    const paged = await all((cursor) => q.searchResources({}, { limit: 7, ...(cursor ? { cursor } : {}) }));
    expect(paged.items.map((r) => r.id)).toEqual(everything.map((r) => r.id));
    expect(paged.pages).toBe(Math.ceil(44 / 7));
    const health = q.searchResources({ department: 'health' }, { limit: 1000 }).items;
    expect(health.length).toBeGreaterThan(10);
    expect(health.every((r) => r.owner === 'health')).toBe(true);
    expect(
      q.searchResources({ theme: 'transport' }, { limit: 1000 }).items.every((r) => r.theme === 'transport'),
    ).toBe(true);
    expect(q.searchResources({ level: 4 }, { limit: 1000 }).items.every((r) => r.level === 4)).toBe(true);
    expect(
      q.searchResources({ sharing: 'none' }, { limit: 1000 }).items.every((r) => r.sharing === 'none'),
    ).toBe(true);
    expect(q.searchResources({ text: 'bus DISTRICT' }).items.map((r) => r.id)).toEqual([
      'public-security/set-07',
    ]);
    // The latest version is what search sees.
    expect(q.searchResources({ text: 'marriage v2' }).items.map((r) => r.version)).toEqual([2]);
    const byIndex = (
      await all((cursor) => q.resourcesOf('health', { limit: 5, ...(cursor ? { cursor } : {}) }))
    ).items;
    expect(byIndex.map((r) => r.id).sort()).toEqual(health.map((r) => r.id).sort());
  });

  it("gives a resource's version history, each with its record index", async () => {
    const h = await ledger.query.resourceHistory('civil/marriage');
    expect(h.items.map((x) => x.record.kind)).toEqual(['resource.register', 'resource.update']);
    expect(h.items[1]!.index).toBe(ledger.query.get('resource', 'civil/marriage')!.index);
  });

  it("gives a consumer's active grants at time T", async () => {
    const q = ledger.query;
    const ids = async (at: number) => (await q.activeGrants('health', at)).items.map((g) => g.id).sort();
    expect(await ids(revokedAt - 1)).toEqual(['g-1', 'g-3']);
    expect(await ids(revokedAt)).toEqual(['g-1']);
    expect(await ids(Date.now() + 2 * DAY)).toEqual([]);
    expect((await q.activeGrants('public-security', revokedAt)).items.map((g) => g.id)).toEqual(['g-2']);
  });

  it('gives the grants and access logs of a resource, paginated', async () => {
    const q = ledger.query;
    expect((await q.grantsOfResource('civil/marriage')).items.map((g) => g.id)).toEqual([
      'g-1',
      'g-2',
      'g-3',
    ]);
    expect((await q.grantsOfScenario('social-assistance')).items).toHaveLength(4);
    const g1 = await all((cursor) => q.accessLogs('g-1', { limit: 4, ...(cursor ? { cursor } : {}) }));
    expect(g1.items).toHaveLength(12);
    expect(g1.items.every((l) => l.record.kind === 'access.log' && l.record.author === 'health')).toBe(true);
    const byResource = await all((cursor) =>
      q.accessLogsOfResource('civil/marriage', { limit: 5, ...(cursor ? { cursor } : {}) }),
    );
    expect(byResource.items).toHaveLength(26);
    expect(new Set(byResource.items.map((l) => l.index)).size).toBe(26);
    expect(byResource.items.map((l) => l.grant)).toEqual([
      ...Array(12).fill('g-1'),
      'g-2',
      ...Array(13).fill('g-3'),
    ]);
  });

  it('lists need lists still open for a provider, and records by kind', async () => {
    // r-2 was refused, r-3 granted by g-4: only r-1 is still open.
    expect((await ledger.query.openRequests('health')).items.map((r) => r.id)).toEqual(['r-1']);
    expect(ledger.query.get('request', 'r-3')).toMatchObject({ status: 'granted', grant: 'g-4' });
    const revokes = await ledger.query.recordsByKind('grant.revoke');
    expect(revokes.items.map((r) => (r.record.body as { id: string }).id)).toEqual(['g-3']);
  });

  it('every result carries a record index that proves against the checkpoint', async () => {
    const g = ledger.query.get('grant', 'g-1')!;
    const log = (await ledger.query.accessLogs('g-1', { limit: 1 })).items[0]!;
    for (const index of [g.index, log.index]) {
      const report = verifyBundle(inclusionBundleToJSON(await ledger.proveInclusion(index)), [
        a.sequencer.verifierKey,
      ]);
      expect(report.ok).toBe(true);
    }
  });

  it('rejects a bad cursor or limit with E_INVALID_ARGUMENT', async () => {
    await expect(ledger.query.accessLogs('g-1', { cursor: '!!' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    expect(() => ledger.query.searchResources({}, { limit: 0 })).toThrow(/limit/);
  });
});

describe('materialised state', () => {
  async function snapshot(path: string): Promise<Map<string, string>> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    const out = new Map<string, string>();
    // Indexes ('I') to state ('T'), and the status map's nodes, current ('V') and every version ('W').
    for await (const [k, v] of db.iterator({ gte: Uint8Array.of(0x49), lt: Uint8Array.of(0x58) }))
      out.set(toHex(k), toHex(v));
    await db.close();
    return out;
  }

  it('survives reopening; rebuilding it from the records is byte-identical; verifyLedger checks it', async () => {
    const before = ledger.query.searchResources({}, { limit: 1000 }).items;
    const size = ledger.head().size;
    await ledger.close();
    const stored = await snapshot(dir.path);
    expect(stored.size).toBeGreaterThan(100);
    expect([...stored.keys()].filter((k) => k.startsWith('56')).length).toBeGreaterThan(50);
    expect([...stored.keys()].filter((k) => k.startsWith('57')).length).toBeGreaterThan(50);
    const report = await rebuildState(dir.path);
    expect(report.records).toBe(size);
    const rebuilt = await snapshot(dir.path);
    expect(rebuilt).toEqual(stored);
    expect((await verifyLedger(dir.path)).ok).toBe(true);

    // Tamper with one grant's stored state: verifyLedger names it.
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    const key = entityKey('grant', 'g-3');
    const v = (await db.get(key))!;
    const original = v.slice();
    v[v.length - 2]! ^= 1;
    await db.put(key, v);
    await db.close();
    const bad = await verifyLedger(dir.path);
    expect(bad.ok).toBe(false);
    expect(bad.error?.message).toMatch(/g-3/);
    const db2 = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db2.put(key, original);
    await db2.close();

    ledger = await openLedger(dir.path, { sequencerKey: a.sequencer.signerKey });
    expect(ledger.query.searchResources({}, { limit: 1000 }).items).toEqual(before);
    expect(ledger.query.get('grant', 'g-3')?.status).toBe('revoked');
    // And the reopened ledger keeps enforcing the same rules.
    await expect(
      ledger.directory.logAccess(a.health.as, { grant: 'g-3', fields: ['name'], count: 1, purpose: 'p' }),
    ).rejects.toMatchObject({
      code: 'E_GRANT_REVOKED',
    });
  });
});
