import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger, writeReport } from '../../src/audit/audit.js';
import type { AuditReport } from '../../src/audit/report.js';
import { signRecord } from '../../src/encoding/record.js';
import { storedHashIndex } from '../../src/merkle/stored.js';
import { serveLedger } from '../../src/serve/server.js';
import { type Actors, grantTerms, makeActors, ORIGIN, openCity, seed } from '../directory/city.js';
import { rewriteStoredEntry, storeTailPageAsFormat3, tempDir } from '../helpers.js';
import { serveAsStored } from '../serve/lying-server.js';

let dir: ReturnType<typeof tempDir>;
let a: Actors;
let path: string;
let local: AuditReport;
const HEALTH_LOGS = 6;

/**
 * A small city ledger with one of each anomaly the ledger can show:
 * genesis, 4 resources + 1 scenario (seed), 3 grants (one on a level-4 field,
 * countersigned; one expiring within the hour), 6 + 2 + 1 access logs, a
 * revocation right after the 6, 3 application records by education and then
 * its suspension, then a batch of 4 access logs (seal + 4 events): 28 entries.
 */
beforeAll(async () => {
  dir = tempDir();
  path = join(dir.path, 'ledger');
  a = makeActors();
  const ledger = await openCity(path, a);
  await seed(ledger, a);
  const d = ledger.directory;
  await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1' }));
  await d.issueGrant(
    a.civil.as,
    grantTerms({ id: 'g-2', consumer: 'public-security', validTo: Date.now() + 30 * 60_000 }),
  );
  await d.issueGrant(
    a.ps.as,
    grantTerms({ id: 'g-4', resource: 'ps/residents', consumer: 'health', fields: ['name', 'photo'] }),
    { approvers: [a.bureau.as] },
  );
  for (let i = 0; i < HEALTH_LOGS; i++)
    await d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: i + 1, purpose: 'check' });
  // Each its own ref: two identical bodies signed in the same millisecond would be one record twice (E_DUPLICATE).
  for (let i = 0; i < 2; i++)
    await d.logAccess(a.ps.as, {
      grant: 'g-2',
      fields: ['name'],
      count: 10,
      purpose: 'check',
      ref: `ps${i}`,
    });
  await d.logAccess(a.health.as, { grant: 'g-4', fields: ['photo'], count: 1, purpose: 'identify' });
  await d.revokeGrant(a.civil.as, 'g-1');
  for (let i = 0; i < 3; i++) {
    await ledger.append(
      signRecord(
        {
          origin: ORIGIN,
          kind: 'x.note',
          author: a.school.id,
          keyId: 0,
          timestamp: Date.now(),
          body: { i },
        },
        a.school.as.signer,
      ).bytes,
    );
  }
  await d.suspendMember(a.bureau.as, a.school.id);
  // A batch: one seal (kind "batch") and its 4 access-log events, each its own entry.
  await d.logAccessBatch(
    a.ps.as,
    Array.from({ length: 4 }, (_, i) => ({
      grant: 'g-2',
      fields: ['name'],
      count: 5,
      purpose: 'batch',
      ref: `b${i}`,
    })),
  );
  expect(ledger.head().size).toBe(28);
  await ledger.close();
  local = await auditLedger(path, { trustedKeys: [a.sequencer.verifierKey] });
});

afterAll(() => dir.cleanup());

async function copyAndChange(
  f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>,
): Promise<string> {
  const copy = join(dir.path, `copy-${Math.random().toString(36).slice(2)}`);
  cpSync(path, copy, { recursive: true });
  const db = new ClassicLevel<Uint8Array, Uint8Array>(copy, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    await f(db);
  } finally {
    await db.close();
  }
  return copy;
}

describe('auditLedger on a local folder', () => {
  it('verifies and counts every record by kind, author and scenario', () => {
    expect(local.ok).toBe(true);
    expect(local.keyTrusted).toBe(true);
    expect([local.records, local.statistics.records]).toEqual([28, 28]);
    expect(local.origin).toBe(ORIGIN);
    const kinds = Object.fromEntries(local.statistics.kinds.map((k) => [k.kind, k.records]));
    expect(kinds).toEqual({
      genesis: 1,
      'resource.register': 4,
      'scenario.register': 1,
      'grant.issue': 3,
      'access.log': 13, // 9 records + 4 batch events
      batch: 1,
      'grant.revoke': 1,
      'x.note': 3,
      'member.suspend': 1,
    });
    const authors = Object.fromEntries(local.statistics.authors.map((x) => [x.id, x.records]));
    expect(authors.health).toBe(HEALTH_LOGS + 1 + 1); // logs + the health/records resource
    expect(authors.education).toBe(3);
    expect(local.statistics.scenarios).toEqual([
      {
        id: 'social-assistance',
        name: 'Social assistance eligibility',
        grants: 3,
        accessLogs: 13,
        items: 21 + 20 + 1 + 20,
      },
    ]);
    expect(local.statistics.grants).toEqual({ issued: 3, revoked: 1, level4: 1 });
    // Series add up to the totals.
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    expect(sum(Object.values(local.statistics.series.kinds).flat())).toBe(28);
    expect(sum(local.statistics.series.grants.issued)).toBe(3);
    expect(sum(local.statistics.series.accessByScenario['social-assistance']!)).toBe(13);
    expect(authors['public-security']).toBe(2 + 1 + 2 + 1 + 4); // resources, grant, logs, seal, events
    expect(local.timeSpan!.from <= local.timeSpan!.to).toBe(true);
  });

  it('finds the anomalies the ledger shows', () => {
    const { counts, items } = local.statistics.anomalies;
    expect(counts).toEqual({
      'access-before-revocation': 1,
      'access-near-expiry': 1,
      'level4-grant': 1,
      'authored-before-suspension': 1,
      burst: 0,
      'unknown-kind': 0,
    });
    const by = Object.fromEntries(items.map((x) => [x.type, x]));
    expect(by['access-before-revocation']).toMatchObject({ subject: 'g-1', count: HEALTH_LOGS, index: 18 });
    expect(by['access-near-expiry']).toMatchObject({ subject: 'g-2', count: 6, first: 15, last: 27 });
    expect(by['level4-grant']!.detail).toContain('photo');
    expect(by['level4-grant']!.detail).toContain('countersigned by bureau');
    expect(by['authored-before-suspension']).toMatchObject({
      subject: 'education',
      count: 3,
      first: 19,
      last: 21,
      index: 22,
    });
  });

  it('names the first bad index of a changed entry, and still reports what verified', async () => {
    const copy = await copyAndChange(async (db) => {
      await rewriteStoredEntry(db, 12, (v) => {
        v[v.length - 70]! ^= 0x01; // inside the body, before the signature
        return v;
      });
    });
    const r = await auditLedger(copy);
    expect(r.ok).toBe(false);
    expect(r.error?.index).toBe(12);
    expect(r.records).toBeLessThanOrEqual(12);
    expect(r.statistics.records).toBe(r.records); // only verified blocks are counted
  });
});

describe('auditLedger over HTTP (dirchain serve, loopback)', () => {
  it('replays a served ledger to the same verdict and statistics as the local audit', async () => {
    const server = await serveLedger(path);
    try {
      const remote = await auditLedger(server.url, { trustedKeys: [a.sequencer.verifierKey] });
      expect(remote.ok).toBe(true);
      expect(remote.source).toBe(server.url);
      expect(remote.fetched!.requests).toBeGreaterThanOrEqual(4); // checkpoint, blocks, entries, tile
      expect(remote.statistics).toEqual(local.statistics);
      expect([remote.records, remote.blocks]).toEqual([local.records, local.blocks]);
    } finally {
      await server.close();
    }
  });

  it('catches a served entry that was changed, at its index', async () => {
    const copy = await copyAndChange(async (db) => {
      await rewriteStoredEntry(db, 15, (v) => {
        v[v.length - 70]! ^= 0x01;
        return v;
      });
    });
    // serveLedger refuses to serve it (test/e2e/corruption.test.ts); a server that lies serves it as stored.
    const server = await serveAsStored(copy);
    try {
      const r = await auditLedger(server.url);
      expect(r.ok).toBe(false);
      expect(r.error?.index).toBe(15);
    } finally {
      await server.close();
    }
  });

  it('catches a served hash tile that disagrees with its entry', async () => {
    const copy = await copyAndChange(async () => {});
    // 29 entries fill no hash page, and format 4 does not store one being filled: store it, as format 3 did, tampered.
    const page = await storeTailPageAsFormat3(copy, (v) => {
      v[32 * storedHashIndex(0, 7) + 5]! ^= 0x01; // the leaf hash of record 7
    });
    expect(page).toBe(0);
    const server = await serveAsStored(copy);
    try {
      const r = await auditLedger(server.url);
      expect(r.ok).toBe(false);
      expect(r.error).toMatchObject({ code: 'E_LEDGER_CORRUPT', index: 7 });
      expect(r.error?.message).toContain('hash tile');
    } finally {
      await server.close();
    }
  });

  it('reports an unreachable server as E_REMOTE', async () => {
    const server = await serveLedger(path);
    const url = server.url;
    await server.close();
    const r = await auditLedger(url);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('E_REMOTE');
  });
});

describe('writeReport', () => {
  it('writes report.json and a self-contained report.html with charts and the verdict', () => {
    const out = join(dir.path, 'report');
    const files = writeReport(out, local);
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as AuditReport;
    expect(json.statistics.records).toBe(28);
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('VERIFIED: 28 records');
    expect(html.match(/<svg /g)?.length).toBe(4);
    expect(html).toContain('access-before-revocation');
    expect(html).not.toMatch(/<script|src=|href=|url\(|@import/i);
  });
});
