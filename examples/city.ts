/**
 * A city data bureau and three departments share data under the "list +
 * directory" model, with every step on the ledger:
 *
 *   npm run demo              (builds, then runs this file; ledger in a temp folder)
 *   node dist-examples/city.js ./data/city   (keep the ledger in ./data/city)
 *
 * It registers resources at all four classification levels, a scenario, a
 * need list answered by a grant, a level-4 grant countersigned by the bureau,
 * access logs, a refused log, a revocation and a refused log after it; then
 * queries the directory, proves one access log and verifies the proof offline
 * with the auditor's `dirchain/verify`, and audits the whole ledger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  consistencyBundleToJSON,
  createLedger,
  generateKeyPair,
  inclusionBundleToJSON,
  isDirchainError,
  type MemberSigner,
  memberSigner,
  verifyLedger,
} from 'dirchain';
import { verifyBundle } from 'dirchain/verify';

const ORIGIN = 'dirchain.example.gov/city';
const DAY = 86_400_000;
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'dirchain-city-'));
const say = (s: string) => console.log(s);
const step = (n: number, s: string) => say(`\n${n}. ${s}`);

/** Runs a step that the ledger must refuse, and shows the typed refusal. */
async function refused(what: string, p: Promise<unknown>): Promise<void> {
  try {
    await p;
    say(`   !! ${what} was accepted — it should not have been`);
    process.exitCode = 1;
  } catch (e) {
    if (!isDirchainError(e)) throw e;
    say(`   refused as expected: ${what} → ${e.code}: ${e.message}`);
  }
}

function member(id: string): { id: string; publicKey: Uint8Array; as: MemberSigner } {
  const key = generateKeyPair(id);
  return { id, publicKey: key.publicKey, as: memberSigner(key.signerKey) };
}

const sequencer = generateKeyPair(ORIGIN);
const bureau = member('bureau');
const police = member('public-security');
const health = member('health');
const civil = member('civil-affairs');

step(1, `The data bureau creates the city ledger in ${join(dir, 'ledger')}`);
const ledger = await createLedger(join(dir, 'ledger'), {
  origin: ORIGIN,
  sequencerKey: sequencer.signerKey,
  members: [
    { id: 'bureau', name: 'City Data Bureau', roles: ['admin'], signingKey: bureau.publicKey },
    {
      id: 'public-security',
      name: 'Public Security Bureau',
      roles: ['provider', 'consumer'],
      signingKey: police.publicKey,
    },
    {
      id: 'health',
      name: 'Health Commission',
      roles: ['provider', 'consumer'],
      signingKey: health.publicKey,
    },
    {
      id: 'civil-affairs',
      name: 'Civil Affairs Bureau',
      roles: ['provider', 'consumer'],
      signingKey: civil.publicKey,
    },
  ],
});
const d = ledger.directory;
say(`   published sequencer key: ${sequencer.verifierKey}`);

step(2, 'Departments publish their directories: resources at all four levels');
const base = { format: 'table', updateCycle: 'daily', opening: 'on request', theme: 'population' };
await Promise.all([
  d.registerResource(civil.as, {
    ...base,
    id: 'civil/registered-charities',
    owner: 'civil-affairs',
    title: 'Registered charities',
    description: 'Name and district of every registered charity',
    sourceSystem: 'charity-registry',
    fields: [
      { name: 'name', level: 1 },
      { name: 'district', level: 1 },
    ],
    level: 1,
    sharing: 'unconditional',
    opening: 'open',
  }),
  d.registerResource(civil.as, {
    ...base,
    id: 'civil/marriage',
    owner: 'civil-affairs',
    title: 'Marriage register',
    description: 'Marriages registered in the city',
    sourceSystem: 'marriage-db',
    fields: [
      { name: 'name', level: 1 },
      { name: 'spouse', level: 2 },
      { name: 'date', level: 2 },
    ],
    level: 2,
    sharing: 'unconditional',
  }),
  d.registerResource(health.as, {
    ...base,
    id: 'health/chronic-conditions',
    owner: 'health',
    title: 'Chronic condition register',
    description: 'Residents with a registered chronic condition',
    theme: 'health',
    sourceSystem: 'his',
    fields: [
      { name: 'name', level: 1 },
      { name: 'id_number', level: 3 },
      { name: 'condition', level: 3 },
    ],
    level: 3,
    sharing: 'conditional',
  }),
  d.registerResource(police.as, {
    ...base,
    id: 'ps/residents',
    owner: 'public-security',
    title: 'Resident register',
    description: 'Household registration of residents',
    sourceSystem: 'hukou',
    fields: [
      { name: 'name', level: 1 },
      { name: 'address', level: 2 },
      { name: 'photo', level: 4 },
    ],
    level: 4,
    sharing: 'unconditional',
  }),
  d.registerResource(police.as, {
    ...base,
    id: 'ps/case-files',
    owner: 'public-security',
    title: 'Case files',
    description: 'Criminal case files',
    theme: 'security',
    sourceSystem: 'cases',
    fields: [{ name: 'case_id', level: 4 }],
    level: 4,
    sharing: 'none',
  }),
]);
for (const r of ledger.query.searchResources({}).items) {
  say(`   ${r.id.padEnd(28)} level ${r.level}  ${r.sharing.padEnd(13)} owner ${r.owner}`);
}

step(3, 'The bureau registers an application scenario');
await d.registerScenario(bureau.as, {
  id: 'social-assistance',
  name: 'Social assistance eligibility',
  lead: 'civil-affairs',
  legalBasis: 'Social Assistance Measures, art. 12',
});
say('   social-assistance (lead: civil-affairs)');

step(4, 'Civil affairs posts a need list; health answers it with a grant');
await refused(
  'a grant on conditionally shared data without a need list',
  d.issueGrant(health.as, {
    id: 'g-health-1',
    consumer: 'civil-affairs',
    resource: 'health/chronic-conditions',
    fields: ['name', 'condition'],
    scenario: 'social-assistance',
    purpose: 'means test',
    validFrom: Date.now() - DAY,
    validTo: Date.now() + 30 * DAY,
  }),
);
await d.openRequest(civil.as, {
  id: 'need-1',
  provider: 'health',
  resource: 'health/chronic-conditions',
  fields: ['name', 'condition'],
  scenario: 'social-assistance',
  purpose: 'means test for assistance applicants',
});
const grant = await d.issueGrant(health.as, {
  id: 'g-health-1',
  consumer: 'civil-affairs',
  resource: 'health/chronic-conditions',
  fields: ['name', 'condition'],
  scenario: 'social-assistance',
  purpose: 'means test',
  validFrom: Date.now() - DAY,
  validTo: Date.now() + 30 * DAY,
  request: 'need-1',
});
say(
  `   grant g-health-1 is record ${grant.index}; need-1 is ${ledger.query.get('request', 'need-1')?.status}`,
);

step(5, "A level-4 field needs the bureau's countersignature");
const photoGrant = {
  id: 'g-ps-photo',
  consumer: 'health',
  resource: 'ps/residents',
  fields: ['name', 'photo'],
  scenario: 'social-assistance',
  purpose: 'identity check at clinics',
  validFrom: Date.now() - DAY,
  validTo: Date.now() + 7 * DAY,
};
await refused('a level-4 grant without countersignature', d.issueGrant(police.as, photoGrant));
await d.issueGrant(police.as, photoGrant, { approvers: [bureau.as] });
say(`   g-ps-photo countersigned by ${ledger.query.get('grant', 'g-ps-photo')?.countersignedBy.join(', ')}`);
await refused(
  'a grant on not-shared case files',
  d.issueGrant(police.as, { ...photoGrant, id: 'g-x', resource: 'ps/case-files', fields: ['case_id'] }),
);

step(6, 'Civil affairs uses the grant: every data call is logged');
const logs = await Promise.all(
  Array.from({ length: 5 }, (_, i) =>
    d.logAccess(civil.as, {
      grant: 'g-health-1',
      fields: ['name', 'condition'],
      count: 10 + i,
      purpose: `case ${1000 + i}`,
    }),
  ),
);
say(`   5 access logs, records ${logs.map((l) => l.index).join(', ')}`);
await refused(
  'a log naming a field the grant does not cover',
  d.logAccess(civil.as, { grant: 'g-health-1', fields: ['id_number'], count: 1, purpose: 'x' }),
);
await refused(
  'a log by a department that is not the grantee',
  d.logAccess(police.as, { grant: 'g-health-1', fields: ['name'], count: 1, purpose: 'x' }),
);

step(7, 'Health revokes the grant; the next use is refused');
// A moment before the revocation: it takes effect at its block's time, which can be this same millisecond.
const beforeRevoke = Date.now() - 1;
await d.revokeGrant(health.as, 'g-health-1', 'assistance round closed');
await refused(
  'an access log after revocation',
  d.logAccess(civil.as, { grant: 'g-health-1', fields: ['name'], count: 1, purpose: 'late' }),
);

step(8, 'Queries');
const found = ledger.query.searchResources({ text: 'register', level: { min: 2 } }).items.map((r) => r.id);
say(`   directory search "register", level ≥ 2: ${found.join(', ')}`);
const activeBefore = (await ledger.query.activeGrants('civil-affairs', beforeRevoke)).items.map((g) => g.id);
const activeNow = (await ledger.query.activeGrants('civil-affairs', Date.now())).items.map((g) => g.id);
say(`   civil-affairs' active grants before the revocation: [${activeBefore}]  now: [${activeNow}]`);
const used = await ledger.query.accessLogsOfResource('health/chronic-conditions');
say(
  `   access logs of health/chronic-conditions: ${used.items.length}, ${used.items.reduce((s, l) => s + (l.record.body as { count: number }).count, 0)} rows in all`,
);

step(9, 'An auditor proves one access log and checks it offline');
const bundle = inclusionBundleToJSON(await ledger.proveInclusion(logs[2]!.index));
const report = verifyBundle(bundle, [sequencer.verifierKey]);
for (const c of report.checks) say(`   ${c.status.padEnd(4)} ${c.name}: ${c.detail}`);
say(`   → ${report.ok ? 'verified' : 'NOT verified'}`);
const tampered = verifyBundle({ ...bundle, index: bundle.index + 1 }, [sequencer.verifierKey]);
say(
  `   the same bundle claiming another index: ${tampered.ok ? 'verified (BUG)' : `refused (${tampered.checks.find((c) => c.status === 'fail')?.name})`}`,
);
const grown = verifyBundle(consistencyBundleToJSON(await ledger.proveConsistency(grant.index + 1)), [
  sequencer.verifierKey,
]);
say(`   the log since the grant only grew: ${grown.ok ? 'verified' : 'NOT verified'}`);

step(10, 'A whole-ledger audit');
const size = ledger.head().size;
await ledger.close();
const audit = await verifyLedger(join(dir, 'ledger'), { trustedKeys: [sequencer.verifierKey] });
// `records` counts every log entry checked: the records, and the block entry that ends each block.
say(
  `   ${audit.ok ? `verified ${audit.records - audit.blocks} records in ${audit.blocks} blocks (${audit.records} log entries with their block entries)` : `FAILED: ${JSON.stringify(audit.error)}`}`,
);
if (!report.ok || tampered.ok || !grown.ok || !audit.ok || audit.records !== size) process.exitCode = 1;
// A folder the demo made for itself is removed; one named on the command line is kept.
if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true });
say(process.argv[2] === undefined ? `\n(removed ${dir})` : `\nthe ledger is in ${dir}`);
