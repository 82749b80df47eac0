import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rebuildState } from '../../src/chain/rebuild.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { approve } from '../../src/directory/directory.js';
import { isDirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { verifyRecord } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import {
  type Actors,
  actor,
  DAY,
  grantTerms,
  makeActors,
  openCity,
  refusal,
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

/** A refused record must write nothing: same size, same state. */
async function refusedWithNothingWritten(p: Promise<unknown>): Promise<string> {
  const size = ledger.head().size;
  const code = await refusal(p);
  expect(ledger.head().size).toBe(size);
  return code;
}

describe('governance', () => {
  it('a member added by a record signed elsewhere keeps its own copy of its key', async () => {
    const newcomer = actor('transport');
    const proposal = ledger.directory.propose('member.add', spec(newcomer, ['consumer']));
    const record = ledger.sign(a.bureau.as, 'member.add', { terms: proposal.terms, approvals: [] });
    const others = Array.from({ length: 20 }, (_, i) => ledger.sign(a.health.as, 'x.note', { i }).bytes);
    const results = await ledger.appendMany([record.bytes, ...others]);
    expect(results.every((r) => !isDirchainError(r))).toBe(true);
    const key = ledger.view.get('member', 'transport')!.keys[0]!;
    expect(Buffer.from(key).equals(Buffer.from(newcomer.key.publicKey))).toBe(true);
    // Not a view into the bytes the records came in: that buffer holds all 21 of them.
    expect(key.buffer.byteLength).toBe(32);
  });

  it('only admins add members; ids are unique', async () => {
    const newcomer = actor('transport');
    expect(
      await refusedWithNothingWritten(ledger.directory.addMember(a.health.as, spec(newcomer, ['consumer']))),
    ).toBe('E_NOT_AUTHORIZED');
    const r = await ledger.directory.addMember(a.bureau.as, spec(newcomer, ['consumer']));
    expect(ledger.query.get('member', 'transport')).toMatchObject({
      status: 'active',
      roles: ['consumer'],
      index: r.index,
    });
    expect(await refusal(ledger.directory.addMember(a.bureau.as, spec(newcomer, ['consumer'])))).toBe(
      'E_DUPLICATE_ID',
    );
    // The new member can write at once.
    expect(await refusal(ledger.directory.closeRequest(newcomer.as, 'nope'))).toBe('E_UNKNOWN_REQUEST');
  });

  it('a suspended member is refused until reinstated; a removed one for good', async () => {
    expect(await refusal(ledger.directory.suspendMember(a.health.as, 'civil-affairs'))).toBe(
      'E_NOT_AUTHORIZED',
    );
    await ledger.directory.suspendMember(a.bureau.as, 'civil-affairs', 'audit in progress');
    const retire = () => ledger.directory.retireResource(a.civil.as, 'civil/marriage');
    expect(await refusedWithNothingWritten(retire())).toBe('E_MEMBER_INACTIVE');
    await ledger.directory.reinstateMember(a.bureau.as, 'civil-affairs');
    expect(
      await refusal(
        ledger.directory.updateResource(
          a.civil.as,
          resource('civil-affairs', 'civil/marriage', { level: 2, fields: [{ name: 'name', level: 1 }] }),
        ),
      ),
    ).toBe('accepted');
    await ledger.directory.removeMember(a.bureau.as, 'civil-affairs');
    expect(await refusal(retire())).toBe('E_MEMBER_INACTIVE');
    expect(await refusal(ledger.directory.reinstateMember(a.bureau.as, 'civil-affairs'))).toBe(
      'E_MEMBER_INACTIVE',
    );
  });

  it('refuses to leave fewer active admins than the quorum needs', async () => {
    expect(await refusal(ledger.directory.suspendMember(a.bureau.as, 'bureau'))).toBe('E_QUORUM');
    expect(await refusal(ledger.directory.setRoles(a.bureau.as, 'bureau', ['consumer']))).toBe('E_QUORUM');
  });

  it('role changes take effect on the next record', async () => {
    await ledger.directory.setRoles(a.bureau.as, 'education', ['consumer', 'provider']);
    expect(
      await refusal(ledger.directory.registerResource(a.school.as, resource('education', 'edu/students'))),
    ).toBe('accepted');
    await ledger.directory.setRoles(a.bureau.as, 'education', ['consumer']);
    expect(
      await refusal(ledger.directory.registerResource(a.school.as, resource('education', 'edu/teachers'))),
    ).toBe('E_NOT_AUTHORIZED');
  });

  it('a rotated-out key is refused from the rotation on; records it signed before still verify', async () => {
    const before = await ledger.directory.registerResource(
      a.health.as,
      resource('health', 'health/vaccines'),
    );
    const next = generateKeyPair('health');
    await ledger.directory.rotateKey(a.health.as, 'health', { signingKey: next.publicKey });
    expect(ledger.query.get('member', 'health')).toMatchObject({ activeKeyId: 1 });
    expect(
      await refusedWithNothingWritten(ledger.directory.retireResource(a.health.as, 'health/vaccines')),
    ).toBe('E_UNKNOWN_KEY');
    // Old bytes signed elsewhere with key 0 are refused too, even though the signature is valid.
    const stale = ledger.sign(a.health.as, 'resource.retire', { id: 'health/vaccines' }).bytes;
    expect(await refusal(ledger.append(stale))).toBe('E_UNKNOWN_KEY');
    // ledger.memberSigner finds the keyId the ledger knows the new key by.
    const rotated = ledger.memberSigner(next.signerKey);
    expect(rotated.keyId).toBe(1);
    expect(() => ledger.memberSigner(generateKeyPair('health').signerKey)).toThrow(
      /not one of health's keys/,
    );
    // The old key: which keyId it is, and that it is no longer current.
    const old = (() => {
      try {
        ledger.memberSigner(a.health.key.signerKey);
      } catch (e) {
        return e;
      }
    })();
    expect(old).toMatchObject({
      code: 'E_UNKNOWN_KEY',
      message: "this is health's key 0, no longer current: health's current key is 1",
    });
    expect(await refusal(ledger.directory.retireResource(rotated, 'health/vaccines'))).toBe('accepted');
    // The record signed with the old key still verifies with that key, and the whole ledger verifies.
    expect(verifyRecord(ledger.getEntry(before.index), a.health.key.publicKey).author).toBe('health');
    await ledger.close();
    const report = await verifyLedger(dir.path);
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it('ledger.memberSigner gives the current keyId, also for a key rotated away from and back to', async () => {
    const next = generateKeyPair('health');
    await ledger.directory.rotateKey(a.health.as, 'health', { signingKey: next.publicKey });
    const second = ledger.memberSigner(next.signerKey);
    expect(second.keyId).toBe(1);
    // Back to the first key: it is in the member's keys twice (0 and 2); 2 is current.
    await ledger.directory.rotateKey(second, 'health', { signingKey: a.health.key.publicKey });
    expect(ledger.query.get('member', 'health')).toMatchObject({ activeKeyId: 2 });
    const again = ledger.memberSigner(a.health.key.signerKey);
    expect(again.keyId).toBe(2);
    expect(await refusal(ledger.submit(again, 'x.note', { n: 1 }))).toBe('accepted');
    expect(() => ledger.memberSigner(next.signerKey)).toThrow(
      "this is health's key 1, no longer current: health's current key is 2",
    );
    expect(await refusal(ledger.submit(second, 'x.note', { n: 2 }))).toBe('E_UNKNOWN_KEY');
  });

  it('rotates the encryption key alone, keeping the signing key', async () => {
    const enc = new Uint8Array(32).fill(7);
    await ledger.directory.rotateKey(a.health.as, 'health', { encryptionKey: enc });
    expect(ledger.query.get('member', 'health')).toMatchObject({ activeKeyId: 0, encryptionKey: enc });
    expect(await refusal(ledger.directory.rotateKey(a.health.as, 'health', {}))).toBe('E_SCHEMA');
    expect(await refusal(ledger.directory.retireResource(a.health.as, 'health/records'))).toBe('accepted');
  });

  it("an admin may rotate a member's key", async () => {
    const next = generateKeyPair('education');
    expect(
      await refusal(ledger.directory.rotateKey(a.health.as, 'education', { signingKey: next.publicKey })),
    ).toBe('E_NOT_AUTHORIZED');
    await ledger.directory.rotateKey(a.bureau.as, 'education', { signingKey: next.publicKey });
    expect(ledger.query.get('member', 'education')!.keys).toHaveLength(2);
  });
});

describe('m-of-n admin quorum', () => {
  it('needs m distinct valid admin approvals over the exact terms', async () => {
    await ledger.close();
    dir.cleanup();
    dir = tempDir();
    const admins = [actor('bureau'), actor('deputy'), actor('inspector')];
    const a2 = { ...makeActors(), bureau: admins[0]! };
    ledger = await openCity(dir.path, a2, {
      members: [...admins.map((x) => spec(x, ['admin'])), spec(a2.health, ['provider', 'consumer'])],
      policy: { adminQuorum: 2 },
    });
    const d = ledger.directory;
    const newcomer = actor('transport');
    const proposal = d.propose('member.add', spec(newcomer, ['consumer']));
    expect(await refusedWithNothingWritten(d.submitProposal(admins[0]!.as, proposal))).toBe('E_QUORUM');
    // The author approving itself does not count twice.
    expect(await refusal(d.submitProposal(admins[0]!.as, proposal, { approvers: [admins[0]!.as] }))).toBe(
      'E_QUORUM',
    );
    expect(await refusal(d.submitProposal(admins[0]!.as, proposal, { approvers: [a2.health.as] }))).toBe(
      'E_NOT_AUTHORIZED',
    );
    const other = d.propose('member.add', spec(actor('transport'), ['consumer']));
    const wrongTerms = approve(other, admins[1]!.as);
    expect(await refusal(d.submitProposal(admins[0]!.as, proposal, { approvals: [wrongTerms] }))).toBe(
      'E_BAD_SIGNATURE',
    );
    // An approval for another kind (same terms bytes) does not carry over.
    const asRoles = approve({ ...proposal, kind: 'member.roles' }, admins[1]!.as);
    expect(await refusal(d.submitProposal(admins[0]!.as, proposal, { approvals: [asRoles] }))).toBe(
      'E_BAD_SIGNATURE',
    );
    const ok = approve(proposal, admins[1]!.as);
    await d.submitProposal(admins[0]!.as, proposal, { approvals: [ok] });
    expect(ledger.query.get('member', 'transport')?.status).toBe('active');
  });
});

describe('resources', () => {
  it('only providers register, only for their own department, with unique ids and valid schema', async () => {
    const d = ledger.directory;
    expect(
      await refusedWithNothingWritten(d.registerResource(a.school.as, resource('education', 'edu/x'))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.registerResource(a.health.as, resource('civil-affairs', 'civil/other')))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(await refusal(d.registerResource(a.health.as, resource('health', 'health/records')))).toBe(
      'E_DUPLICATE_ID',
    );
    expect(await refusal(d.registerResource(a.health.as, resource('health', 'h/bad', { level: 5 })))).toBe(
      'E_SCHEMA',
    );
    expect(await refusal(d.registerResource(a.health.as, resource('health', 'h/bad', { level: 2 })))).toBe(
      'E_SCHEMA',
    );
    expect(
      await refusal(d.registerResource(a.health.as, { ...resource('health', 'h/bad'), extra: 1 } as never)),
    ).toBe('E_SCHEMA');
    expect(await refusal(d.registerResource(a.health.as, resource('health', 'health/beds')))).toBe(
      'accepted',
    );
  });

  it('only the owner updates (a new version) or retires; a retired resource takes nothing new', async () => {
    const d = ledger.directory;
    const v2 = resource('civil-affairs', 'civil/marriage', {
      level: 2,
      title: 'Marriage register v2',
      fields: [
        { name: 'name', level: 1 },
        { name: 'spouse', level: 2 },
        { name: 'date', level: 1 },
      ],
    });
    expect(await refusal(d.updateResource(a.health.as, { ...v2, owner: 'health' }))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.updateResource(a.civil.as, { ...v2, id: 'civil/none' }))).toBe(
      'E_UNKNOWN_RESOURCE',
    );
    await d.updateResource(a.civil.as, v2);
    expect(ledger.query.get('resource', 'civil/marriage')).toMatchObject({
      version: 2,
      title: 'Marriage register v2',
    });
    expect(await refusal(d.retireResource(a.health.as, 'civil/marriage'))).toBe('E_NOT_AUTHORIZED');
    await d.issueGrant(a.civil.as, grantTerms());
    await d.retireResource(a.civil.as, 'civil/marriage', 'replaced');
    expect(await refusal(d.updateResource(a.civil.as, v2))).toBe('E_RESOURCE_RETIRED');
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ id: 'g-2' })))).toBe('E_RESOURCE_RETIRED');
    expect(
      await refusal(d.logAccess(a.health.as, { grant: 'g-1', fields: ['name'], count: 1, purpose: 'x' })),
    ).toBe('E_RESOURCE_RETIRED');
    expect(
      await refusal(
        d.openRequest(a.health.as, {
          id: 'r-9',
          provider: 'civil-affairs',
          resource: 'civil/marriage',
          fields: ['name'],
          scenario: 'social-assistance',
          purpose: 'p',
        }),
      ),
    ).toBe('E_RESOURCE_RETIRED');
  });
});

describe('scenarios', () => {
  it('are registered by an admin or their lead department', async () => {
    const s = { id: 'elder-care', name: 'Elder care', lead: 'health', legalBasis: 'Elder Care Act' };
    expect(await refusal(ledger.directory.registerScenario(a.civil.as, s))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(ledger.directory.registerScenario(a.health.as, s))).toBe('accepted');
    expect(await refusal(ledger.directory.registerScenario(a.bureau.as, s))).toBe('E_DUPLICATE_ID');
    expect(
      await refusal(ledger.directory.registerScenario(a.bureau.as, { ...s, id: 'x', lead: 'nobody' })),
    ).toBe('E_UNKNOWN_MEMBER');
  });
});

describe('grants', () => {
  it('only the owner grants, only current fields, only to a consumer, for a known scenario', async () => {
    const d = ledger.directory;
    expect(await refusedWithNothingWritten(d.issueGrant(a.health.as, grantTerms()))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ fields: ['name', 'salary'] })))).toBe(
      'E_FIELD_UNKNOWN',
    );
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ scenario: 'nope' })))).toBe(
      'E_UNKNOWN_SCENARIO',
    );
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ consumer: 'bureau' })))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ consumer: 'ghost' })))).toBe(
      'E_UNKNOWN_MEMBER',
    );
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms({ validTo: Date.now() - 2 * DAY })))).toBe(
      'E_SCHEMA',
    );
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms()))).toBe('accepted');
    expect(await refusal(d.issueGrant(a.civil.as, grantTerms()))).toBe('E_DUPLICATE_ID');
    expect(ledger.query.get('grant', 'g-1')).toMatchObject({
      provider: 'civil-affairs',
      consumer: 'health',
      status: 'active',
    });
  });

  it('refuses a grant on a not-shared resource', async () => {
    const g = grantTerms({ resource: 'ps/cases', fields: ['name'] });
    expect(await refusal(ledger.directory.issueGrant(a.ps.as, g))).toBe('E_NOT_SHARED');
  });

  it('conditional sharing needs an open need-list request from that consumer', async () => {
    const d = ledger.directory;
    const g = grantTerms({
      resource: 'health/records',
      consumer: 'civil-affairs',
      fields: ['name', 'id_number'],
    });
    expect(await refusal(d.issueGrant(a.health.as, g))).toBe('E_REQUEST_REQUIRED');
    expect(await refusal(d.issueGrant(a.health.as, { ...g, request: 'r-1' }))).toBe('E_REQUEST_REQUIRED');
    const req = {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name', 'id_number'],
      scenario: 'social-assistance',
      purpose: 'eligibility',
    };
    expect(await refusal(d.openRequest(a.bureau.as, req))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.openRequest(a.civil.as, { ...req, provider: 'civil-affairs' }))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(await refusal(d.openRequest(a.civil.as, { ...req, fields: ['blood_type'] }))).toBe(
      'E_FIELD_UNKNOWN',
    );
    await d.openRequest(a.civil.as, req);
    await d.openRequest(a.school.as, { ...req, id: 'r-2' });
    // A request by another consumer does not count.
    expect(await refusal(d.issueGrant(a.health.as, { ...g, request: 'r-2' }))).toBe('E_REQUEST_REQUIRED');
    expect(await refusal(d.answerRequest(a.health.as, 'r-1', { decision: 'granted', grant: 'g-9' }))).toBe(
      'E_UNKNOWN_GRANT',
    );
    expect((await ledger.query.openRequests('health')).items.map((r) => r.id)).toEqual(['r-1', 'r-2']);
    // The grant answers the request in the same record: granted, with the grant's id.
    const issued = await d.issueGrant(a.health.as, { ...g, request: 'r-1' });
    expect(ledger.query.get('request', 'r-1')).toMatchObject({ status: 'granted', grant: 'g-1' });
    expect((await ledger.query.openRequests('health')).items.map((r) => r.id)).toEqual(['r-2']);
    // One grant per request; a later answer, either way, is refused as already answered.
    expect(await refusal(d.issueGrant(a.health.as, { ...g, id: 'g-2', request: 'r-1' }))).toBe(
      'E_REQUEST_NOT_OPEN',
    );
    expect(await refusal(d.answerRequest(a.civil.as, 'r-1', { decision: 'granted', grant: 'g-1' }))).toBe(
      'E_NOT_AUTHORIZED',
    );
    for (const answer of [
      { decision: 'granted', grant: 'g-1' },
      { decision: 'refused', reason: 'no' },
    ] as const) {
      expect(await refusedWithNothingWritten(d.answerRequest(a.health.as, 'r-1', answer))).toBe(
        'E_REQUEST_NOT_OPEN',
      );
    }
    await expect(d.answerRequest(a.health.as, 'r-1', { decision: 'granted', grant: 'g-1' })).rejects.toThrow(
      'request r-1 was already answered: granted by grant g-1',
    );
    expect(ledger.query.get('request', 'r-1')).toMatchObject({ status: 'granted', grant: 'g-1' });
    expect(ledger.query.get('grant', 'g-1')).toMatchObject({ request: 'r-1', index: issued.index });
    await d.answerRequest(a.health.as, 'r-2', {
      decision: 'refused',
      reason: 'schools have no legal basis here',
    });
    expect(ledger.query.get('request', 'r-2')).toMatchObject({
      status: 'refused',
      reason: 'schools have no legal basis here',
    });
    expect(await refusal(d.closeRequest(a.ps.as, 'r-2'))).toBe('E_NOT_AUTHORIZED');
    await d.closeRequest(a.school.as, 'r-2');
    expect(await refusal(d.closeRequest(a.school.as, 'r-2'))).toBe('E_REQUEST_NOT_OPEN');

    // Replaying the records reaches the same verdicts and state: verifyLedger and rebuildState agree.
    const request = ledger.query.get('request', 'r-1');
    await ledger.close();
    const report = await verifyLedger(dir.path);
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    await rebuildState(dir.path);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
    ledger = await openLedger(dir.path, { sequencerKey: a.sequencer.signerKey });
    expect(ledger.query.get('request', 'r-1')).toEqual(request);
  });

  it('level-4 fields need an admin countersignature on the grant', async () => {
    const d = ledger.directory;
    const g = grantTerms({ resource: 'ps/residents', consumer: 'health', fields: ['name', 'photo'] });
    expect(await refusedWithNothingWritten(d.issueGrant(a.ps.as, g))).toBe('E_COUNTERSIGNATURE_REQUIRED');
    expect(await refusal(d.issueGrant(a.ps.as, g, { approvers: [a.health.as] }))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.issueGrant(a.ps.as, { ...g, fields: ['name', 'address'] }))).toBe('accepted');
    expect(await refusal(d.issueGrant(a.ps.as, { ...g, id: 'g-4' }, { approvers: [a.bureau.as] }))).toBe(
      'accepted',
    );
    expect(ledger.query.get('grant', 'g-4')?.countersignedBy).toEqual(['bureau']);
  });

  it('revocation by the owner or an admin only, once', async () => {
    const d = ledger.directory;
    await d.issueGrant(a.civil.as, grantTerms());
    await d.issueGrant(a.civil.as, grantTerms({ id: 'g-2' }));
    expect(await refusal(d.revokeGrant(a.health.as, 'g-1'))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(d.revokeGrant(a.civil.as, 'g-1'))).toBe('accepted');
    expect(await refusal(d.revokeGrant(a.bureau.as, 'g-2'))).toBe('accepted');
    expect(await refusal(d.revokeGrant(a.bureau.as, 'g-2'))).toBe('E_GRANT_REVOKED');
    expect(await refusal(d.revokeGrant(a.bureau.as, 'g-7'))).toBe('E_UNKNOWN_GRANT');
    expect(ledger.query.get('grant', 'g-2')).toMatchObject({ status: 'revoked', revokedBy: 'bureau' });
  });
});

describe('access logs', () => {
  it("only by the grant's consumer, for granted fields, inside the window, never after revocation", async () => {
    const d = ledger.directory;
    await d.issueGrant(a.civil.as, grantTerms({ fields: ['name'] }));
    const log = (who = a.health.as, fields = ['name'], grant = 'g-1') =>
      d.logAccess(who, { grant, fields, count: 3, purpose: 'check' });
    expect(await refusal(log())).toBe('accepted');
    expect(await refusedWithNothingWritten(log(a.ps.as))).toBe('E_NOT_AUTHORIZED');
    expect(await refusal(log(a.health.as, ['name', 'spouse']))).toBe('E_FIELD_NOT_GRANTED');
    expect(await refusal(log(a.health.as, ['name'], 'g-404'))).toBe('E_UNKNOWN_GRANT');
    await d.revokeGrant(a.civil.as, 'g-1');
    expect(await refusedWithNothingWritten(log())).toBe('E_GRANT_REVOKED');
  });

  it('are refused before the window opens and after it closes', async () => {
    const d = ledger.directory;
    const now = Date.now();
    await d.issueGrant(a.civil.as, grantTerms({ id: 'past', validFrom: now - 3 * DAY, validTo: now - DAY }));
    await d.issueGrant(
      a.civil.as,
      grantTerms({ id: 'future', validFrom: now + DAY, validTo: now + 3 * DAY }),
    );
    expect(
      await refusal(d.logAccess(a.health.as, { grant: 'past', fields: ['name'], count: 1, purpose: 'p' })),
    ).toBe('E_GRANT_EXPIRED');
    expect(
      await refusal(d.logAccess(a.health.as, { grant: 'future', fields: ['name'], count: 1, purpose: 'p' })),
    ).toBe('E_GRANT_NOT_YET_VALID');
  });
});

describe('activeGrants agrees with the access rules', () => {
  it('lists no grant of a retired resource, nor any of a suspended or removed consumer', async () => {
    const d = ledger.directory;
    const q = ledger.query;
    await d.issueGrant(a.civil.as, grantTerms({ id: 'g-1' }));
    await d.issueGrant(a.ps.as, grantTerms({ id: 'g-2', resource: 'ps/residents', fields: ['name'] }));
    const live = async (consumer = 'health') =>
      (await q.activeGrants(consumer, Date.now())).items.map((g) => g.id).sort();
    const use = (grant: string) =>
      refusal(d.logAccess(a.health.as, { grant, fields: ['name'], count: 1, purpose: 'check' }));
    expect(await live()).toEqual(['g-1', 'g-2']);
    expect([await use('g-1'), await use('g-2')]).toEqual(['accepted', 'accepted']);

    await d.retireResource(a.civil.as, 'civil/marriage');
    expect(await live()).toEqual(['g-2']);
    expect([await use('g-1'), await use('g-2')]).toEqual(['E_RESOURCE_RETIRED', 'accepted']);

    await d.suspendMember(a.bureau.as, 'health', 'audit');
    expect(await live()).toEqual([]);
    expect(await use('g-2')).toBe('E_MEMBER_INACTIVE');
    // The page options are still checked for a consumer with nothing live.
    await expect(q.activeGrants('health', Date.now(), { limit: 0 })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    await d.reinstateMember(a.bureau.as, 'health');
    expect(await live()).toEqual(['g-2']);
    expect(await use('g-2')).toBe('accepted');

    await d.removeMember(a.bureau.as, 'health');
    expect(await live()).toEqual([]);
    expect(await use('g-2')).toBe('E_MEMBER_INACTIVE');
    expect(await live('nobody')).toEqual([]);
  });
});

describe('application kinds and schema', () => {
  it('accepts x.* kinds from any active member, refuses unknown kinds and bad bodies', async () => {
    expect(await refusal(ledger.submit(a.school.as, 'x.note', { any: ['thing'] }))).toBe('accepted');
    expect(await refusal(ledger.submit(a.school.as, 'resource.delete', { id: 'x' }))).toBe('E_SCHEMA');
    expect(
      await refusal(
        ledger.submit(a.health.as, 'access.log', { grant: 'g', fields: [], count: 1, purpose: 'p' }),
      ),
    ).toBe('E_SCHEMA');
    expect(
      await refusal(
        ledger.submit(a.health.as, 'access.log', { grant: 'g', fields: ['a'], count: 0, purpose: 'p' }),
      ),
    ).toBe('E_SCHEMA');
  });
});

describe('all-or-nothing', () => {
  it('an atomic group lands whole or not at all; a plain batch keeps its good records', async () => {
    const d = ledger.directory;
    await d.issueGrant(a.civil.as, grantTerms());
    // Each use carries its own ref: identical bytes would be a replay (E_DUPLICATE).
    const use = (ref: string, fields = ['name']) =>
      ledger.sign(a.health.as, 'access.log', { grant: 'g-1', fields, count: 1, purpose: 'p', ref }).bytes;
    const bad = use('bad', ['spouse']);
    const size = ledger.head().size;
    const atomic = await ledger.appendMany([use('a1'), bad, use('a2')], { atomic: true });
    expect(atomic.map((r) => (isDirchainError(r) ? r.code : 'ok'))).toEqual([
      'E_ATOMIC_ABORTED',
      'E_FIELD_NOT_GRANTED',
      'E_ATOMIC_ABORTED',
    ]);
    expect(ledger.head().size).toBe(size);
    const plain = await ledger.appendMany([use('p1'), bad, use('p2')]);
    expect(plain.map((r) => (isDirchainError(r) ? r.code : 'ok'))).toEqual([
      'ok',
      'E_FIELD_NOT_GRANTED',
      'ok',
    ]);
    // The two good records and the block entry of their block.
    expect(ledger.head().size).toBe(size + 3);
    const whole = await ledger.appendMany([use('w1'), use('w2')], { atomic: true });
    expect(whole.every((r) => !isDirchainError(r))).toBe(true);
    // Both records of the atomic group are in the same block.
    expect(new Set(whole.map((r) => (r as { height: number }).height)).size).toBe(1);
  });

  it('rolls back state staged by earlier records of a refused atomic group', async () => {
    const d = ledger.directory;
    const grant = ledger.sign(a.civil.as, 'grant.issue', {
      terms: d.propose('grant.issue', grantTerms({ id: 'g-at' })).terms,
      approvals: [],
    }).bytes;
    const log = ledger.sign(a.health.as, 'access.log', {
      grant: 'g-at',
      fields: ['spouse'],
      count: 1,
      purpose: 'p',
    }).bytes;
    const r = await ledger.appendMany([grant, log], { atomic: true });
    expect(r.map((x) => (isDirchainError(x) ? x.code : 'ok'))).toEqual([
      'E_ATOMIC_ABORTED',
      'E_FIELD_NOT_GRANTED',
    ]);
    expect(ledger.query.get('grant', 'g-at')).toBeUndefined();
  });
});
