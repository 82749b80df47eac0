import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger, writeReport } from '../../src/audit/audit.js';
import type { AuditReport } from '../../src/audit/report.js';
import { isBlockEntry } from '../../src/encoding/block-entry.js';
import { signRecord } from '../../src/encoding/record.js';
import { serveLedger } from '../../src/node/serve.js';
import { type Actors, grantTerms, makeActors, ORIGIN, openCity, seed } from '../directory/city.js';
import { rewriteStoredEntry, tempDir } from '../helpers.js';
import { serveAsStored } from '../node/lying-server.js';

let dir: ReturnType<typeof tempDir>;
let a: Actors;
let path: string;
let local: AuditReport;
const HEALTH_LOGS = 6;
/** The tree size: the 28 records and the block entry of every block. */
let size: number;
/** Indexes of the block entries. */
let blockEntries: number[];
/** Where the records that anomalies and tampering name landed (from their receipts). */
let at: {
  grants: number[];
  healthLogs: number[];
  psLogs: number[];
  revoke: number;
  notes: number[];
  suspend: number;
  lastEvent: number;
};

/**
 * A small city ledger with one of each anomaly the ledger can show:
 * genesis, 4 resources + 1 scenario (seed), 3 grants (one on a level-4 field,
 * countersigned; one expiring within the hour), 6 + 2 + 1 access logs, a
 * revocation right after the 6, 3 application records by education and then
 * its suspension, then a batch of 4 access logs (seal + 4 events): 28 records,
 * each block ended by its block entry.
 */
beforeAll(async () => {
  dir = tempDir();
  path = join(dir.path, 'ledger');
  a = makeActors();
  const ledger = await openCity(path, a);
  await seed(ledger, a);
  const d = ledger.directory;
  const grants = [
    await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1' })),
    await d.issueGrant(
      a.civil.as,
      grantTerms({ id: 'g-2', consumer: 'public-security', validTo: Date.now() + 30 * 60_000 }),
    ),
    await d.issueGrant(
      a.ps.as,
      grantTerms({ id: 'g-4', resource: 'ps/residents', consumer: 'health', fields: ['name', 'photo'] }),
      { approvers: [a.bureau.as] },
    ),
  ];
  const healthLogs = [];
  for (let i = 0; i < HEALTH_LOGS; i++)
    healthLogs.push(
      await d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: i + 1, purpose: 'check' }),
    );
  // Each its own ref: two identical bodies signed in the same millisecond would be one record twice (E_DUPLICATE).
  const psLogs = [];
  for (let i = 0; i < 2; i++)
    psLogs.push(
      await d.logAccess(a.ps.as, {
        grant: 'g-2',
        fields: ['name'],
        count: 10,
        purpose: 'check',
        ref: `ps${i}`,
      }),
    );
  await d.logAccess(a.health.as, { grant: 'g-4', fields: ['photo'], count: 1, purpose: 'identify' });
  const revoke = await d.revokeGrant(a.civil.as, 'g-1');
  const notes = [];
  for (let i = 0; i < 3; i++) {
    notes.push(
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
      ),
    );
  }
  const suspend = await d.suspendMember(a.bureau.as, a.school.id);
  // A batch: one seal (kind "batch") and its 4 access-log events, each its own entry.
  const batch = await d.logAccessBatch(
    a.ps.as,
    Array.from({ length: 4 }, (_, i) => ({
      grant: 'g-2',
      fields: ['name'],
      count: 5,
      purpose: 'batch',
      ref: `b${i}`,
    })),
  );
  size = ledger.head().size;
  blockEntries = [];
  for (let i = 0; i < size; i++) if (isBlockEntry(ledger.getEntry(i))) blockEntries.push(i);
  expect([blockEntries.length, size]).toEqual([ledger.head().height + 1, 28 + ledger.head().height + 1]);
  at = {
    grants: grants.map((r) => r.index),
    healthLogs: healthLogs.map((r) => r.index),
    psLogs: psLogs.map((r) => r.index),
    revoke: revoke.index,
    notes: notes.map((r) => r.index),
    suspend: suspend.index,
    lastEvent: batch.first + batch.count - 1,
  };
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
    // The report checked every entry; the statistics count records, not block entries.
    expect([local.records, local.statistics.records]).toEqual([size, 28]);
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
    expect(by['access-before-revocation']).toMatchObject({
      subject: 'g-1',
      count: HEALTH_LOGS,
      index: at.revoke,
    });
    expect(by['access-near-expiry']).toMatchObject({
      subject: 'g-2',
      count: 6,
      first: at.psLogs[0],
      last: at.lastEvent,
    });
    expect(by['level4-grant']!.detail).toContain('photo');
    expect(by['level4-grant']!.detail).toContain('countersigned by bureau');
    expect(by['authored-before-suspension']).toMatchObject({
      subject: 'education',
      count: 3,
      first: at.notes[0],
      last: at.notes[2],
      index: at.suspend,
    });
  });

  it('names the first bad index of a changed entry, and still reports what verified', async () => {
    const index = at.healthLogs[3]!;
    const copy = await copyAndChange(async (db) => {
      await rewriteStoredEntry(db, index, (v) => {
        v[v.length - 70]! ^= 0x01; // inside the body, before the signature
        return v;
      });
    });
    const r = await auditLedger(copy);
    expect(r.ok).toBe(false);
    expect(r.error?.index).toBe(index);
    expect(r.records).toBeLessThanOrEqual(index);
    // Only verified blocks are counted: the records among the entries checked (not their block entries).
    expect(r.statistics.records).toBe(r.records - blockEntries.filter((i) => i < r.records).length);
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
    const index = at.psLogs[0]!;
    const copy = await copyAndChange(async (db) => {
      await rewriteStoredEntry(db, index, (v) => {
        v[v.length - 70]! ^= 0x01;
        return v;
      });
    });
    // serveLedger refuses to serve it (test/e2e/corruption.test.ts); a server that lies serves it as stored.
    const server = await serveAsStored(copy);
    try {
      const r = await auditLedger(server.url);
      expect(r.ok).toBe(false);
      expect(r.error?.index).toBe(index);
    } finally {
      await server.close();
    }
  });

  it('catches a served hash tile that disagrees with its entry', async () => {
    const copy = await copyAndChange(async () => {});
    // The entries fill no hash page, and the page being filled is not stored: the server changes it as it serves it.
    expect(size).toBeLessThan(128);
    const index = at.grants[1]!;
    const server = await serveAsStored(copy, {
      changeHashTile: (tile, data) => {
        if (tile.level === 0 && tile.n === 0) data[32 * index + 5]! ^= 0x01; // the leaf hash of that record
      },
    });
    try {
      const r = await auditLedger(server.url);
      expect(r.ok).toBe(false);
      expect(r.error).toMatchObject({ code: 'E_LEDGER_CORRUPT', index });
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
    // The verdict counts records; report.records counts log entries, one block entry per block included.
    expect(html).toContain(
      `VERIFIED: ${size - blockEntries.length} records in ${blockEntries.length} blocks (${size} log entries`,
    );
    expect(html.match(/<svg /g)?.length).toBe(4);
    expect(html).toContain('access-before-revocation');
    expect(html).not.toMatch(/<script|src=|href=|url\(|@import/i);
  });
});
