/**
 * Sealed payloads in records (issue 34, item 2), on a real ledger and real
 * local-only stores: grant terms and a need list's justification sealed to
 * named members' X25519 keys (as genesis and rotations set them); each
 * recipient opens them with the key its store kept, an old key after a
 * rotation, a passphrase-protected key with its passphrase; a non-recipient
 * cannot; a payload copied into another record does not open; the text is in
 * no file of the ledger folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { unpackChecked } from '../../src/encoding/msgpack.js';
import {
  approve,
  createLedger,
  encryptionKeyId,
  generateEncryptionKey,
  type Ledger,
} from '../../src/index.js';
import type { Sealed } from '../../src/privacy/sealed.js';
import {
  type Actors,
  cityMembers,
  grantTerms,
  makeActors,
  ORIGIN,
  resource,
  seed,
} from '../directory/city.js';
import { tempDir } from '../helpers.js';

const a: Actors = makeActors();
const dir = tempDir('dirchain-sealed-');
const path = join(dir.path, 'ledger');
const MARK = 'MARKER-sealed-3b81';
const keys = {
  health: generateEncryptionKey(),
  civil: generateEncryptionKey(),
  ps: generateEncryptionKey(),
};
let ledger: Ledger;
let grantAt = 0;
let requestAt = 0;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeAll(async () => {
  const members = cityMembers(a).map((m) =>
    m.id === 'health'
      ? { ...m, encryptionKey: keys.health.publicKey }
      : m.id === 'civil-affairs'
        ? { ...m, encryptionKey: keys.civil.publicKey }
        : m.id === 'public-security'
          ? { ...m, encryptionKey: keys.ps.publicKey }
          : m,
  );
  ledger = await createLedger(path, {
    origin: ORIGIN,
    sequencerKey: a.sequencer.signerKey,
    members,
    local: join(dir.path, 'local'),
  });
  await seed(ledger, a);
  await ledger.keepEncryptionKey('health', keys.health);
  await ledger.keepEncryptionKey('civil-affairs', keys.civil);
  await ledger.keepEncryptionKey('public-security', keys.ps, { passphrase: 'correct horse' });
  grantAt = (
    await ledger.directory.issueGrant(a.civil.as, grantTerms({ id: 'g-sealed' }), {
      sealed: { text: `${MARK}: no onward sharing, delete after 30 days`, to: ['health', 'civil-affairs'] },
    })
  ).index;
  requestAt = (
    await ledger.directory.openRequest(
      a.civil.as,
      {
        id: 'r-sealed',
        provider: 'public-security',
        resource: 'ps/residents',
        fields: ['name'],
        scenario: 'social-assistance',
        purpose: 'eligibility',
      },
      { sealed: { text: `${MARK}: case 2026-118, a minor`, to: ['public-security'] } },
    )
  ).index;
});

afterAll(async () => {
  await ledger?.close();
  dir.cleanup();
});

function files(root: string): string[] {
  return readdirSync(root).flatMap((n) => {
    const p = join(root, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('sealed payloads in records', () => {
  it('each recipient opens the payload; a member it was not sealed to cannot; the text is in no ledger file', async () => {
    expect(text(await ledger.openSealed(grantAt, 'health'))).toContain(`${MARK}: no onward sharing`);
    expect(text(await ledger.openSealed(grantAt, 'civil-affairs'))).toContain(`${MARK}: no onward sharing`);
    await expect(
      ledger.openSealed(grantAt, 'public-security', { passphrase: 'correct horse' }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(files(path).filter((f) => readFileSync(f).includes(Buffer.from(MARK)))).toEqual([]);
    // The grant's entity and its record carry no plaintext either.
    expect(JSON.stringify(ledger.query.get('grant', 'g-sealed'))).not.toContain(MARK);
  });

  it('a passphrase-protected key opens with its passphrase only', async () => {
    expect(
      text(await ledger.openSealed(requestAt, 'public-security', { passphrase: 'correct horse' })),
    ).toContain('case 2026-118');
    await expect(
      ledger.openSealed(requestAt, 'public-security', { passphrase: 'wrong' }),
    ).rejects.toMatchObject({
      code: 'E_KEY_INVALID',
    });
    await expect(ledger.openSealed(requestAt, 'public-security')).rejects.toMatchObject({
      code: 'E_KEY_INVALID',
      message: expect.stringContaining('gave no passphrase for'),
    });
    // A pair whose halves do not belong together is refused when kept.
    await expect(
      ledger.keepEncryptionKey('public-security', {
        publicKey: keys.civil.publicKey,
        privateKey: keys.ps.privateKey,
      }),
    ).rejects.toMatchObject({ code: 'E_KEY_INVALID' });
  });

  it('after a rotation new payloads go to the new key and old ones still open with the old key', async () => {
    const next = generateEncryptionKey();
    await ledger.directory.rotateKey(
      a.bureau.as,
      'health',
      { encryptionKey: next.publicKey },
      { approvers: [a.bureau.as] },
    );
    await ledger.keepEncryptionKey('health', next);
    const later = (
      await ledger.directory.issueGrant(a.civil.as, grantTerms({ id: 'g-sealed-2' }), {
        sealed: { text: 'after the rotation', to: ['health'] },
      })
    ).index;
    expect(text(await ledger.openSealed(later, 'health'))).toBe('after the rotation');
    expect(text(await ledger.openSealed(grantAt, 'health'))).toContain('no onward sharing');
    // Without the old key, the old payload is out of reach; the new one still opens.
    const old = (await ledger.secrets!.names!()).find((n) =>
      n.endsWith(toHex(encryptionKeyId(keys.health.publicKey))),
    );
    expect(await ledger.secrets!.delete(old!)).toBe(true);
    await expect(ledger.openSealed(grantAt, 'health')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(text(await ledger.openSealed(later, 'health'))).toBe('after the rotation');
  });

  it("a grant carries its resource's openings to its consumer: only the consumer opens them, checked against the commitment", async () => {
    const d = ledger.directory;
    const { index: resourceAt } = await d.registerResource(
      a.civil.as,
      resource('civil-affairs', 'civil/adoption'),
      { attributes: { description: `${MARK}-description`, contact: `${MARK}-contact` } },
    );
    const grantWith = (
      await d.issueGrant(
        a.civil.as,
        grantTerms({ id: 'g-openings', resource: 'civil/adoption', fields: ['name'] }),
        {
          openings: { index: resourceAt, names: ['description'] },
          sealed: { text: 'see the description', to: [] },
        },
      )
    ).index;
    const got = await ledger.openGrantDisclosure(grantWith, 'health');
    expect(got).toMatchObject({
      index: resourceAt,
      kind: 'resource.register',
      values: { description: `${MARK}-description` },
      to: { member: 'health' },
      text: 'see the description',
    });
    expect(JSON.stringify(got)).not.toContain(`${MARK}-contact`);
    await expect(
      ledger.openGrantDisclosure(grantWith, 'public-security', { passphrase: 'correct horse' }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    // A grant without openings has none to give.
    await expect(ledger.openGrantDisclosure(grantAt, 'civil-affairs')).rejects.toMatchObject({
      code: 'E_DECODE',
    });
    expect(files(path).filter((f) => readFileSync(f).includes(Buffer.from(`${MARK}-description`)))).toEqual(
      [],
    );
  });

  it('a countersigned grant: proposed with its sealed payload, approved elsewhere, submitted', async () => {
    const d = ledger.directory;
    const proposal = await d.proposeGrant(
      a.ps.as,
      grantTerms({ id: 'g-level-4', resource: 'ps/residents', fields: ['photo'], consumer: 'health' }),
      { sealed: { text: 'photos of adults only', to: ['health'] } },
    );
    // The bureau countersigns the exact terms (sealed payload included), as it would on another machine.
    const approval = approve(proposal, a.bureau.as);
    const { index } = await d.submitProposal(a.ps.as, proposal, { approvals: [approval] });
    expect(text(await ledger.openSealed(index, 'health'))).toBe('photos of adults only');
  });

  it('a payload copied into another record does not open there', async () => {
    const record = ledger.getRecord(grantAt)!;
    const terms = unpackChecked((record.body as { terms: Uint8Array }).terms) as { sealed: Sealed };
    const moved = (
      await ledger.submit(a.civil.as, 'request.open', {
        id: 'r-moved',
        provider: 'health',
        resource: 'health/records',
        fields: ['name'],
        scenario: 'social-assistance',
        purpose: 'p',
        sealed: terms.sealed as never,
      })
    ).index;
    await expect(ledger.openSealed(moved, 'civil-affairs')).rejects.toMatchObject({
      code: 'E_PROOF_INVALID',
    });
  });
});
