/**
 * Regression tests for attacks and edge cases found in review: replayed
 * records and approvals, clock games, weak keys, non-canonical encodings,
 * relabelled fields, cursors from other queries, origin confusion.
 */
import { ClassicLevel } from 'classic-level';
import { Packr } from 'msgpackr/pack';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { State } from '../../src/chain/state.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { approve } from '../../src/directory/directory.js';
import { signRecord } from '../../src/encoding/record.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { verifyCheckpoint } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import {
  type Actors,
  actor,
  refusal as code,
  DAY,
  grantTerms,
  makeActors,
  openCity,
  resource,
  seed,
  spec,
} from './city.js';

let dir: ReturnType<typeof tempDir>;
let a: Actors;
let ledger: Ledger;

beforeEach(async () => {
  dir = tempDir();
  a = makeActors();
  ledger = await openCity(dir.path, a);
  await seed(ledger, a);
});
afterEach(async () => {
  await ledger.close();
  dir.cleanup();
});

describe('replays', () => {
  it('the same record bytes are accepted once, whoever resubmits them', async () => {
    await ledger.directory.issueGrant(a.civil.as, grantTerms());
    const log = ledger.sign(a.health.as, 'access.log', {
      grant: 'g-1',
      fields: ['name'],
      count: 500,
      purpose: 'p',
    }).bytes;
    expect(await code(ledger.append(log))).toBe('accepted');
    expect(await code(ledger.append(log))).toBe('E_DUPLICATE');
    // Replaying an old version of a resource cannot roll it back.
    const v2 = ledger.sign(
      a.civil.as,
      'resource.update',
      resource('civil-affairs', 'civil/marriage', {
        level: 2,
        title: 'v2',
        fields: [{ name: 'name', level: 1 }],
      }) as never,
    ).bytes;
    await ledger.append(v2);
    await ledger.directory.updateResource(
      a.civil.as,
      resource('civil-affairs', 'civil/marriage', {
        level: 2,
        title: 'v3',
        fields: [{ name: 'name', level: 1 }],
      }),
    );
    expect(await code(ledger.append(v2))).toBe('E_DUPLICATE');
    expect(ledger.query.get('resource', 'civil/marriage')?.title).toBe('v3');
  });

  it('an approval made for one state of a member cannot be reused after it changed', async () => {
    await ledger.close();
    dir.cleanup();
    dir = tempDir();
    const admins = [actor('bureau'), actor('deputy')];
    ledger = await openCity(
      dir.path,
      { ...a, bureau: admins[0]! },
      {
        members: [...admins.map((x) => spec(x, ['admin'])), spec(a.ps, ['provider', 'consumer'])],
        policy: { adminQuorum: 2 },
      },
    );
    const d = ledger.directory;
    const suspend = d.propose('member.suspend', { member: 'public-security' });
    const deputyApproval = approve(suspend, admins[1]!.as);
    await d.submitProposal(admins[0]!.as, suspend, { approvals: [deputyApproval] });
    await d.reinstateMember(admins[0]!.as, 'public-security', { approvers: [admins[1]!.as] });
    // The bureau alone tries to suspend again with the deputy's old approval.
    expect(await code(d.submitProposal(admins[0]!.as, suspend, { approvals: [deputyApproval] }))).toBe(
      'E_STALE_TERMS',
    );
    expect(ledger.query.get('member', 'public-security')?.status).toBe('active');
  });
});

describe('time', () => {
  it("an access log inside the window by the author's clock but not by the block's is refused", async () => {
    await ledger.close();
    dir.cleanup();
    dir = tempDir();
    const t0 = Date.now();
    let now = t0;
    ledger = await openCity(dir.path, a, { policy: { maxClockSkewMs: 0 }, clock: () => now });
    await seed(ledger, a);
    await ledger.directory.issueGrant(a.civil.as, grantTerms({ validFrom: t0 - DAY, validTo: t0 + 1000 }));
    now += 5000; // the grant expired a few seconds ago
    const backdated = signRecord(
      {
        origin: ledger.origin,
        kind: 'access.log',
        author: 'health',
        keyId: 0,
        timestamp: t0, // inside the window by the author's clock
        body: { grant: 'g-1', fields: ['name'], count: 1, purpose: 'p' },
      },
      a.health.as.signer,
    ).bytes;
    expect(await code(ledger.append(backdated))).toBe('E_GRANT_EXPIRED');
  });

  it('refuses timestamps no Date can hold', async () => {
    expect(
      await code(() =>
        signRecord(
          { origin: ledger.origin, kind: 'x.t', author: 'health', keyId: 0, timestamp: 9e15, body: null },
          a.health.as.signer,
        ),
      ),
    ).toBe('E_SCHEMA');
  });
});

describe('keys', () => {
  it('refuses small-order (weak) Ed25519 keys for members', async () => {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(
      await code(
        ledger.directory.addMember(a.bureau.as, {
          id: 'weak',
          name: 'weak',
          roles: ['consumer'],
          signingKey: identity,
        }),
      ),
    ).toBe('E_SCHEMA');
    expect(await code(ledger.directory.rotateKey(a.health.as, 'health', { signingKey: identity }))).toBe(
      'E_SCHEMA',
    );
    expect(
      await code(
        openCity(`${dir.path}/weak`, a, {
          members: [{ id: 'bureau', name: 'b', roles: ['admin'], signingKey: identity }],
        }),
      ),
    ).toBe('E_SCHEMA');
  });

  it('a checkpoint is only good when signed by a trusted key named after its origin', async () => {
    const other = generateKeyPair('county.example.gov/other');
    const forged = ledger.head().checkpoint.replace(/\n\n[\s\S]*$/, '\n');
    const { signNote } = await import('../../src/crypto/note.js');
    const { loadSigner } = await import('../../src/crypto/keys.js');
    const note = signNote(forged, [loadSigner(other.signerKey)]);
    expect(await code(() => verifyCheckpoint(note, [a.sequencer.verifierKey, other.verifierKey]))).toBe(
      'E_CHECKPOINT_INVALID',
    );
    expect(
      verifyCheckpoint(ledger.head().checkpoint, [a.sequencer.verifierKey, other.verifierKey]).origin,
    ).toBe(ledger.origin);
  });
});

describe('encoding', () => {
  it('refuses non-canonical MessagePack: duplicate keys, integer keys, long forms', async () => {
    const dupBody = new Uint8Array([0x82, 0xa1, 0x78, 0x01, 0xa1, 0x78, 0x02]); // {x:1, x:2}
    const { pack } = await import('../../src/encoding/msgpack.js');
    const head = pack([1, ledger.origin, 'x.t', 'health', 0, Date.now()]);
    const signed = new Uint8Array([0x97, ...head.subarray(1), ...dupBody]);
    const sign = (s: Uint8Array) => {
      const { recordSigningMessage } = {
        recordSigningMessage: (x: Uint8Array) =>
          new Uint8Array([...new TextEncoder().encode('dirchain/record/v1\n'), ...x]),
      };
      return a.health.as.signer.sign(recordSigningMessage(s));
    };
    const entry = (s: Uint8Array) =>
      new Uint8Array(new Packr({ useRecords: false }).pack([Buffer.from(s), Buffer.from(sign(s))]));
    expect(await code(ledger.append(entry(signed)))).toBe('E_DECODE');
    const intKey = new Uint8Array([0x97, ...head.subarray(1), 0x81, 0x01, 0x02]); // {1:2}
    expect(await code(ledger.append(entry(intKey)))).toBe('E_DECODE');
    const longInt = new Uint8Array([0x97, ...head.subarray(1), 0xcd, 0x00, 0x05]); // 5 as uint16
    expect(await code(ledger.append(entry(longInt)))).toBe('E_DECODE');
    const canonical = new Uint8Array([0x97, ...head.subarray(1), 0x05]);
    expect(await code(ledger.append(entry(canonical)))).toBe('accepted');
  });

  it('refuses body fields named after Object.prototype members', async () => {
    const body = { ...resource('health', 'health/proto'), constructor: 'x', toString: 'y' };
    expect(await code(ledger.submit(a.health.as, 'resource.register', body as never))).toBe('E_SCHEMA');
  });
});

describe('rules closed in review', () => {
  it('a field relabelled to level 4 after the grant still needs the countersignature to be used', async () => {
    const d = ledger.directory;
    const fields = [
      { name: 'name', level: 1 },
      { name: 'secret', level: 2 },
    ];
    await d.updateResource(a.civil.as, resource('civil-affairs', 'civil/marriage', { level: 4, fields }));
    await d.issueGrant(a.civil.as, grantTerms({ fields: ['name', 'secret'] }));
    await d.updateResource(
      a.civil.as,
      resource('civil-affairs', 'civil/marriage', {
        level: 4,
        fields: [fields[0]!, { name: 'secret', level: 4 }],
      }),
    );
    expect(
      await code(d.logAccess(a.health.as, { grant: 'g-1', fields: ['secret'], count: 1, purpose: 'p' })),
    ).toBe('E_COUNTERSIGNATURE_REQUIRED');
    expect(
      await code(d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: 1, purpose: 'p' })),
    ).toBe('accepted');
  });

  it('a grant answering a need list gives no more than was asked; a granted request cannot be refused', async () => {
    const d = ledger.directory;
    await d.openRequest(a.civil.as, {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name'],
      scenario: 'social-assistance',
      purpose: 'p',
    });
    const g = grantTerms({ resource: 'health/records', consumer: 'civil-affairs', request: 'r-1' });
    expect(await code(d.issueGrant(a.health.as, { ...g, fields: ['name', 'id_number'] }))).toBe(
      'E_REQUEST_REQUIRED',
    );
    await d.registerScenario(a.bureau.as, { id: 'other', name: 'o', lead: 'health', legalBasis: 'l' });
    expect(await code(d.issueGrant(a.health.as, { ...g, fields: ['name'], scenario: 'other' }))).toBe(
      'E_REQUEST_REQUIRED',
    );
    await d.issueGrant(a.health.as, { ...g, fields: ['name'] });
    expect(await code(d.answerRequest(a.health.as, 'r-1', { decision: 'refused', reason: 'no' }))).toBe(
      'E_REQUEST_NOT_OPEN',
    );
  });

  it('a cursor from another query is refused', async () => {
    await ledger.directory.issueGrant(a.civil.as, grantTerms());
    await ledger.directory.issueGrant(a.civil.as, grantTerms({ id: 'g-2', consumer: 'public-security' }));
    const page = await ledger.query.grantsOfResource('civil/marriage', { limit: 1 });
    expect(page.cursor).toBeDefined();
    await expect(
      ledger.query.activeGrants('education', Date.now(), { cursor: page.cursor! }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });
});

describe('lifecycle', () => {
  it('close() refuses new appends at once and finishes the queued ones', async () => {
    await ledger.directory.issueGrant(a.civil.as, grantTerms());
    let n = 0;
    const writer = (async () => {
      const results: string[] = [];
      for (;;) {
        const r = await code(
          ledger.directory.logAccess(a.health.as, {
            grant: 'g-1',
            fields: ['name'],
            count: 1,
            purpose: 'p',
            ref: String(n++),
          }),
        );
        results.push(r);
        if (r !== 'accepted') return results;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    await ledger.close();
    const results = await writer;
    expect(results.at(-1)).toBe('E_LEDGER_CLOSED');
    expect(results.slice(0, -1).every((r) => r === 'accepted')).toBe(true);
  });

  it('queries never see a block before it is durable', () => {
    const members = [...ledger.view.members()];
    const state = new State(() => undefined, members);
    const committed = state.committed();
    state.stage([{ type: 'member', entity: { ...members[1]!, status: 'suspended' } }], []);
    expect(state.get('member', members[1]!.id)?.status).toBe('suspended');
    expect(committed.get('member', members[1]!.id)?.status).toBe('active');
    state.commit();
    expect(committed.get('member', members[1]!.id)?.status).toBe('suspended');
  });
});

describe('verifyLedger and the index table', () => {
  it('finds deleted and forged index entries', async () => {
    await ledger.directory.issueGrant(a.civil.as, grantTerms());
    for (let i = 0; i < 3; i++)
      await ledger.directory.logAccess(a.health.as, {
        grant: 'g-1',
        fields: ['name'],
        count: 1,
        purpose: 'p',
        ref: String(i),
      });
    await ledger.close();
    expect((await verifyLedger(dir.path)).ok).toBe(true);
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    const { indexPrefix } = await import('../../src/storage/index-table.js');
    const logKeys: Uint8Array[] = [];
    for await (const k of db.keys({
      gte: indexPrefix('g', 'g-1'),
      lt: new Uint8Array([...indexPrefix('g', 'g-1'), 0xff]),
    }))
      logKeys.push(k);
    expect(logKeys).toHaveLength(3);
    await db.del(logKeys[1]!);
    await db.close();
    let r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.code]).toEqual([false, 'E_LEDGER_CORRUPT']);
    const db2 = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db2.put(logKeys[1]!, new Uint8Array(0));
    await db2.put(
      new Uint8Array([...indexPrefix('c', 'education'), ...new TextEncoder().encode('g-1')]),
      new Uint8Array(0),
    );
    await db2.close();
    r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.code]).toEqual([false, 'E_LEDGER_CORRUPT']);
    expect(r.error?.message).toMatch(/index table/);
    ledger = await openLedger(dir.path);
  });
});
