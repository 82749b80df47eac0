/**
 * Three departments and an auditor, each its own process, around one
 * `dirchain node`: everything they do goes over HTTP through `connect`.
 *
 *   npm run build && node dist-examples/departments.js          (in a temp folder it removes)
 *   node dist-examples/departments.js ./data/departments         (keeps the node folder there)
 *
 * Run without a role, this file is the orchestrator: it creates the ledger
 * (the bureau as admin; health, transport and education as providers and
 * consumers; an audit office), starts `dirchain node` on it, then runs itself
 * as three department processes at the same time. Each registers a resource
 * and the scenario it leads, opens need lists to the other two, answers the
 * need lists it receives with grants (levels ≤ 3, so no countersignature), and
 * logs its uses of the grants it got. Then an auditor process, holding only
 * the node's URL, the published sequencer key and its own member key, finds an
 * access log through the node's directory queries, proves it, writes the
 * bundle and verifies it with `dirchain/verify`. Last, the node is stopped
 * with SIGTERM and must exit 0, leaving a ledger `verifyLedger` passes.
 *
 * The roles, as the orchestrator starts them:
 *   departments.js department <url> <sequencer verifier key> <member key file>
 *   departments.js auditor    <url> <sequencer verifier key> <member key file> <bundle out dir>
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  connect,
  createLedger,
  generateKeyPair,
  inclusionBundleToJSON,
  isDirchainError,
  type MemberSigner,
  memberSigner,
  type Receipt,
  type ResourceSpec,
  type ScenarioSpec,
  verifyLedger,
} from 'dirchain';
import { decodeRecord, fromBase64, verifyBundle } from 'dirchain/verify';

const ORIGIN = 'dirchain.example.gov/departments';
const DAY = 86_400_000;
/** How long a department waits for another's record to appear before it gives up. */
const WAIT_MS = 20_000;
const POLL_MS = 50;
/** The whole run, node start to stop; the example takes a few seconds. */
const DEADLINE_MS = 28_000;

interface Department {
  id: string;
  name: string;
  resource: ResourceSpec;
  scenario: ScenarioSpec;
  /** The need lists it opens: another department's resource, the fields it asks for, why. */
  needs: { resource: string; fields: string[]; purpose: string }[];
}

const common = {
  format: 'table',
  updateCycle: 'daily',
  opening: 'on request',
  sharing: 'conditional',
} as const;

const DEPARTMENTS: Department[] = [
  {
    id: 'health',
    name: 'Health Commission',
    resource: {
      ...common,
      id: 'health/clinics',
      owner: 'health',
      title: 'Community clinics',
      description: 'Clinics, their districts and daily patient numbers',
      theme: 'health',
      sourceSystem: 'his',
      fields: [
        { name: 'clinic', level: 1 },
        { name: 'district', level: 1 },
        { name: 'patients_per_day', level: 2 },
      ],
      level: 2,
    },
    scenario: {
      id: 'clinic-outreach',
      name: 'School clinic outreach',
      lead: 'health',
      legalBasis: 'Public Health Act, art. 7',
    },
    needs: [
      {
        resource: 'education/enrolment',
        fields: ['child_id', 'school'],
        purpose: 'school vaccination visits',
      },
      { resource: 'transport/school-bus-riders', fields: ['route', 'stop'], purpose: 'mobile clinic stops' },
    ],
  },
  {
    id: 'transport',
    name: 'Transport Bureau',
    resource: {
      ...common,
      id: 'transport/school-bus-riders',
      owner: 'transport',
      title: 'School bus riders',
      description: 'Pupils riding school buses, by route and stop',
      theme: 'transport',
      sourceSystem: 'fleet',
      fields: [
        { name: 'child_id', level: 3 },
        { name: 'route', level: 2 },
        { name: 'stop', level: 1 },
      ],
      level: 3,
    },
    scenario: {
      id: 'route-planning',
      name: 'School bus route planning',
      lead: 'transport',
      legalBasis: 'Road Transport Regulations, art. 22',
    },
    needs: [
      { resource: 'education/enrolment', fields: ['school', 'grade'], purpose: 'buses per school and grade' },
      { resource: 'health/clinics', fields: ['clinic', 'district'], purpose: 'stops near clinics' },
    ],
  },
  {
    id: 'education',
    name: 'Education Bureau',
    resource: {
      ...common,
      id: 'education/enrolment',
      owner: 'education',
      title: 'School enrolment',
      description: 'Pupils enrolled, by school and grade',
      theme: 'education',
      sourceSystem: 'sis',
      fields: [
        { name: 'child_id', level: 3 },
        { name: 'school', level: 2 },
        { name: 'grade', level: 1 },
      ],
      level: 3,
    },
    scenario: {
      id: 'school-readiness',
      name: 'School readiness checks',
      lead: 'education',
      legalBasis: 'Education Act, art. 15',
    },
    needs: [
      { resource: 'transport/school-bus-riders', fields: ['child_id', 'route'], purpose: 'pupils’ commutes' },
      { resource: 'health/clinics', fields: ['clinic', 'district'], purpose: 'clinics near schools' },
    ],
  },
];
const AUDITOR = 'audit-office';

const say = (s: string) => console.log(s);
const receipt = (r: Receipt) => `record ${r.index} (block ${r.height})`;
const requestId = (consumer: string, resource: string) => `need-${consumer}-${resource.split('/')[0]}`;

/** Asks `probe` every POLL_MS until it has an answer; gives up after WAIT_MS. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`gave up after ${WAIT_MS} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** The member whose signer key is in `file`, connected to the node as itself. */
async function connectAs(url: string, verifierKey: string, file: string) {
  const as: MemberSigner = memberSigner(readFileSync(file, 'utf8').trim());
  return { as, ledger: await connect(url, { verifierKey, as }) };
}

// ---- a department ----------------------------------------------------------------------------

async function department(url: string, verifierKey: string, keyFile: string): Promise<void> {
  const { as, ledger } = await connectAs(url, verifierKey, keyFile);
  const me = DEPARTMENTS.find((d) => d.id === as.id);
  if (me === undefined) throw new Error(`${as.id} is not one of the departments`);
  const tell = (s: string) => say(`   ${`[${me.id}]`.padEnd(12)}${s}`);
  const d = ledger.directory;
  let receipts = 0;
  const count = <T extends Receipt>(r: T): T => {
    receipts++;
    return r;
  };

  // Its own entry in the directory, and the scenario it leads.
  const [resource, scenario] = await Promise.all([
    d.registerResource(as, me.resource).then(count),
    d.registerScenario(as, me.scenario).then(count),
  ]);
  tell(`registered resource ${me.resource.id} → ${receipt(resource)}`);
  tell(`registered scenario ${me.scenario.id} → ${receipt(scenario)}`);

  // Need lists to the other two, once their resources are in the directory.
  await Promise.all(
    me.needs.map(async (need) => {
      // Over HTTP `get` is typed as answering any entity: say which this one is.
      const wanted = await until(
        `resource ${need.resource}`,
        async () => await ledger.query.get('resource', need.resource),
      );
      const r = count(
        await d.openRequest(as, {
          id: requestId(me.id, need.resource),
          provider: wanted.owner,
          resource: need.resource,
          fields: need.fields,
          scenario: me.scenario.id,
          purpose: need.purpose,
        }),
      );
      tell(`asked ${wanted.owner} for ${need.fields.join(', ')} of ${need.resource} → ${receipt(r)}`);
    }),
  );

  // Answers every need list addressed to it with a grant of what was asked, for the scenario asked.
  const expected = DEPARTMENTS.filter((o) => o.needs.some((n) => n.resource === me.resource.id)).length;
  const answerNeeds = async () => {
    const answered = new Set<string>();
    while (answered.size < expected) {
      const open = await until(`need lists for ${me.id}`, async () => {
        const page = await ledger.query.openRequests(me.id);
        const fresh = page.items.filter((q) => !answered.has(q.id));
        return fresh.length > 0 ? fresh : undefined;
      });
      await Promise.all(
        open.map(async (q) => {
          answered.add(q.id);
          const r = count(
            await d.issueGrant(as, {
              id: `grant-${q.id}`,
              consumer: q.consumer,
              resource: q.resource,
              fields: q.fields,
              scenario: q.scenario,
              purpose: q.purpose,
              validFrom: Date.now() - DAY,
              validTo: Date.now() + 30 * DAY,
              request: q.id,
            }),
          );
          tell(`granted ${q.consumer} ${q.fields.join(', ')} (answers ${q.id}) → ${receipt(r)}`);
        }),
      );
    }
  };

  // Uses each grant it got, twice; every use is an access log.
  const useGrants = () =>
    Promise.all(
      me.needs.map(async (need, n) => {
        const asked = requestId(me.id, need.resource);
        const grant = await until(`a grant answering ${asked}`, async () => {
          const q = await ledger.query.get('request', asked);
          return q?.grant ?? undefined;
        });
        const logs = await Promise.all(
          [0, 1].map((i) =>
            d
              .logAccess(as, {
                grant,
                fields: need.fields,
                count: 10 * (n + 1) + i,
                purpose: `${need.purpose}, batch ${i + 1}`,
              })
              .then(count),
          ),
        );
        tell(`used ${grant} twice → access logs ${logs.map(receipt).join(', ')}`);
      }),
    );

  await Promise.all([answerNeeds(), useGrants()]);
  tell(`done: ${receipts} receipts`);
  await ledger.close();
}

// ---- the auditor -----------------------------------------------------------------------------

async function auditor(url: string, verifierKey: string, keyFile: string, outDir: string): Promise<boolean> {
  const { ledger } = await connectAs(url, verifierKey, keyFile);
  const tell = (s: string) => say(`   ${'[auditor]'.padEnd(12)}${s}`);
  const resources = (await ledger.query.searchResources({})).items;
  tell(`the directory lists ${resources.length} resources: ${resources.map((r) => r.id).join(', ')}`);
  const first = resources[0];
  if (first === undefined) throw new Error('the directory is empty');
  const grants = (await ledger.query.grantsOfResource(first.id)).items;
  tell(
    `${first.id} has ${grants.length} grants: ${grants.map((g) => `${g.id} to ${g.consumer}`).join(', ')}`,
  );
  const grant = grants[0];
  if (grant === undefined) throw new Error(`${first.id} has no grants`);
  const logs = (await ledger.query.accessLogs(grant.id)).items;
  tell(`${grant.id} has ${logs.length} access logs: records ${logs.map((l) => l.index).join(', ')}`);
  const chosen = logs.at(-1);
  if (chosen === undefined) throw new Error(`${grant.id} has no access logs`);

  // The bundle, as the auditor would file it, then checked with nothing but the file and the pinned key.
  const bundle = inclusionBundleToJSON(await ledger.proveInclusion(chosen.index));
  const file = join(outDir, `access-log-${chosen.index}.json`);
  writeFileSync(file, `${JSON.stringify(bundle, null, 2)}\n`);
  tell(`proved record ${chosen.index} in the tree of size ${bundle.size}: ${file}`);
  await ledger.close();

  const text = readFileSync(file, 'utf8');
  const report = verifyBundle(text, [verifierKey]);
  for (const c of report.checks) tell(`  ${c.status.padEnd(4)} ${c.name}: ${c.detail}`);
  const record = decodeRecord(fromBase64((JSON.parse(text) as { leaf: string }).leaf));
  const body = record.body as { grant?: string; fields?: string[]; count?: number };
  const isTheLog = record.kind === 'access.log' && body.grant === grant.id;
  if (report.ok && isTheLog) {
    tell(
      `verified: record ${chosen.index} (access.log by ${record.author} under ${body.grant}: ` +
        `${body.count} rows of ${body.fields?.join(', ')}) is in ${ORIGIN}, tree size ${bundle.size}`,
    );
  } else {
    tell(
      `NOT verified: ${report.ok ? `record ${chosen.index} is not an access log under ${grant.id}` : 'a check failed'}`,
    );
  }
  const moved = verifyBundle({ ...bundle, index: bundle.index + 1 }, [verifierKey]);
  const refusedBy = moved.checks.find((c) => c.status === 'fail')?.name;
  tell(
    `the same bundle claiming record ${bundle.index + 1}: ${moved.ok ? 'verified (BUG)' : `refused (${refusedBy})`}`,
  );
  return report.ok && isTheLog && !moved.ok;
}

// ---- the orchestrator ------------------------------------------------------------------------

/** The `dirchain` command of the installed package: its package.json's bin. */
function dirchainCli(): string {
  const manifest = fileURLToPath(import.meta.resolve('dirchain/package.json'));
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { dirchain: string } };
  return resolve(dirname(manifest), bin.dirchain);
}

function writeKey(file: string, key: string): string {
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Resolves with the exit code (a signal counts as a failure). */
async function exitOf(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return code ?? 1;
}

async function orchestrate(kept: string | undefined): Promise<boolean> {
  const dir = resolve(kept ?? mkdtempSync(join(tmpdir(), 'dirchain-departments-')));
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = [];
  const watchdog = setTimeout(() => {
    say(`!! not finished after ${DEADLINE_MS} ms: stopping`);
    for (const c of children) c.kill('SIGTERM');
    process.exit(1);
  }, DEADLINE_MS);
  watchdog.unref();

  say(`1. The bureau creates the ledger in ${dir}`);
  mkdirSync(join(dir, 'keys'), { recursive: true });
  const sequencer = generateKeyPair(ORIGIN);
  const members = [
    { id: 'bureau', name: 'City Data Bureau', roles: ['admin' as const] },
    ...DEPARTMENTS.map((d) => ({
      id: d.id,
      name: d.name,
      roles: ['provider' as const, 'consumer' as const],
    })),
    { id: AUDITOR, name: 'City Audit Office', roles: ['auditor' as const] },
  ].map((m) => ({ ...m, key: generateKeyPair(m.id) }));
  const ledger = await createLedger(join(dir, 'ledger'), {
    origin: ORIGIN,
    sequencerKey: sequencer.signerKey,
    members: members.map(({ id, name, roles, key }) => ({ id, name, roles, signingKey: key.publicKey })),
  });
  await ledger.close();
  // The layout `dirchain init` makes, which `dirchain node` reads.
  writeKey(join(dir, 'keys', 'sequencer.key'), sequencer.signerKey);
  writeFileSync(join(dir, 'sequencer.pub'), `${sequencer.verifierKey}\n`);
  const keyFile = Object.fromEntries(
    members.map((m) => [m.id, writeKey(join(dir, 'keys', `${m.id}.key`), m.key.signerKey)]),
  );
  say(`   members: ${members.map((m) => `${m.id} (${m.roles.join(', ')})`).join('; ')}`);
  say(`   published sequencer key: ${sequencer.verifierKey}`);

  const node = spawn(process.execPath, [dirchainCli(), 'node', dir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(node);
  const url = await new Promise<string>((ok, no) => {
    createInterface({ input: node.stdout! }).once('line', ok);
    node.once('exit', (code) => no(new Error(`dirchain node exited with ${code} before it printed its URL`)));
  });
  say(`\n2. The node runs: dirchain node ${dir} → ${url}`);

  /** This file again, in a role; a failed role stops the others. */
  const role = (args: string[]) => {
    const child = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(child);
    return exitOf(child).then((code) => {
      if (code !== 0) for (const c of children) if (c !== node) c.kill('SIGTERM');
      return code;
    });
  };

  say('\n3. Three department processes work at once, each over HTTP as itself');
  const codes = await Promise.all(
    DEPARTMENTS.map((d) => role(['department', url, sequencer.verifierKey, keyFile[d.id]!])),
  );
  let ok = codes.every((c) => c === 0);
  if (ok) {
    say(`\n4. An auditor process, with only ${url}, the published key and its own key`);
    ok = (await role(['auditor', url, sequencer.verifierKey, keyFile[AUDITOR]!, dir])) === 0;
  } else {
    say(`!! departments exited ${codes.join(', ')}`);
  }

  node.kill('SIGTERM');
  const nodeCode = await exitOf(node);
  say(`\n5. The node stops on SIGTERM: exit code ${nodeCode}`);
  const audit = await verifyLedger(join(dir, 'ledger'), { trustedKeys: [sequencer.verifierKey] });
  say(
    audit.ok
      ? `   the ledger it leaves verifies: ${audit.records - audit.blocks} records in ${audit.blocks} blocks`
      : `   the ledger it leaves does NOT verify: ${JSON.stringify(audit.error)}`,
  );
  clearTimeout(watchdog);
  if (kept === undefined) {
    rmSync(dir, { recursive: true, force: true });
    say(`\n(removed ${dir})`);
  } else {
    say(`\nthe node folder is in ${dir}`);
  }
  return ok && nodeCode === 0 && audit.ok;
}

// ---- which role this process plays -----------------------------------------------------------

const [first, url, verifierKey, keyFile, outDir] = process.argv.slice(2);
try {
  if (first === 'department') {
    await department(url!, verifierKey!, keyFile!);
  } else if (first === 'auditor') {
    if (!(await auditor(url!, verifierKey!, keyFile!, outDir!))) process.exitCode = 1;
  } else if (!(await orchestrate(first))) {
    process.exitCode = 1;
  }
} catch (e) {
  // The orchestrator names each key file after its member.
  const who =
    first === 'department' || first === 'auditor'
      ? `${first} ${basename(keyFile ?? '', '.key')}`
      : 'departments';
  console.error(`${who}: ${isDirchainError(e) ? `${e.code}: ${e.message}` : String(e)}`);
  process.exitCode = 1;
}
