/**
 * dist/verifier.html in a real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core; no browser is ever downloaded), opened from
 * file:// with bundles made by the real `dirchain prove`. When Chromium is
 * missing (a fresh CI machine) it is installed with apt-get; if that fails the
 * test fails and says so. Screenshots go to test-artifacts/ (git-ignored).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger, disclosureToJSON } from '../../src/index.js';
import { cosignCheckpoint, generateWitnessKey } from '../../src/sync/witness.js';
import { ORIGIN as CITY_ORIGIN, cityMembers, makeActors, resource, seed } from '../directory/city.js';
import { repoRoot } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CLI = path.join(repoRoot, 'dist', 'cli.js');
const PAGE = path.join(repoRoot, 'dist', 'verifier.html');
const ARTIFACTS = path.join(repoRoot, 'test-artifacts');
const ORIGIN = 'dirchain.example.gov/city';
const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete env.DIRCHAIN_DIR;

function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', 'chromium'], { encoding: 'utf8', env: aptEnv });
  let r = install();
  if (r.status !== 0) {
    // A fresh machine may not have package lists yet.
    spawnSync('apt-get', ['update'], { encoding: 'utf8', env: aptEnv });
    r = install();
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing and \`apt-get install -y chromium\` did not install it ` +
        `(exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${(r.stderr ?? '').slice(-2000)}\n` +
        'Install Debian’s chromium package (as root) and run the tests again.',
    );
  }
}

function dirchain(args: readonly string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

let tmp: string;
let context: BrowserContext;
let page: Page;
let seqKey: string;
let otherKey: string;
let good: Record<string, unknown>;
let status: Record<string, unknown>;
/** A disclosure of a record's private attributes (made with the library: a local-only store is the author's). */
let disclosure: Record<string, unknown>;
let cityKey: string;
const requests: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  ensureChromium();
  expect(fs.existsSync(PAGE), 'run `npm run build` first (npm test does)').toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dirchain-browser-'));
  const dir = path.join(tmp, 'city');
  seqKey = (JSON.parse(dirchain(['init', dir, '--origin', ORIGIN, '--json'])) as { verifierKey: string })
    .verifierKey;
  otherKey = (
    JSON.parse(dirchain(['init', path.join(tmp, 'other'), '--origin', ORIGIN, '--json'])) as {
      verifierKey: string;
    }
  ).verifierKey;
  const records = Array.from({ length: 12 }, (_, i) => JSON.stringify({ kind: 'x.access.log', body: { i } }));
  fs.writeFileSync(path.join(tmp, 'records.ndjson'), `${records.join('\n')}\n`);
  dirchain([
    'append',
    dir,
    '--file',
    path.join(tmp, 'records.ndjson'),
    '--key',
    path.join(dir, 'keys', 'bureau.key'),
  ]);
  good = JSON.parse(dirchain(['prove', dir, '--index', '5', '--json']));
  status = JSON.parse(dirchain(['prove-status', dir, '--type', 'member', '--id', 'bureau', '--json']));
  {
    const a = makeActors();
    const city = await createLedger(path.join(tmp, 'private', 'ledger'), {
      origin: CITY_ORIGIN,
      sequencerKey: a.sequencer.signerKey,
      members: cityMembers(a),
      local: path.join(tmp, 'private', 'local'),
    });
    try {
      await seed(city, a);
      const { index } = await city.directory.registerResource(
        a.civil.as,
        resource('civil-affairs', 'civil/adoption'),
        {
          attributes: { description: 'adoption files, 1950 on', contact: 'archive desk' },
        },
      );
      disclosure = JSON.parse(
        JSON.stringify(
          disclosureToJSON(await city.disclose(index, ['description'], { to: 'health', as: a.civil.as })),
        ),
      );
      cityKey = a.sequencer.verifierKey;
    } finally {
      await city.close();
    }
  }

  context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.on('request', (r) => requests.push(r.url()));
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(pathToFileURL(PAGE).href);
}, 600_000);

afterAll(async () => {
  await context?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function check(bundle: unknown, keys: string, witnesses = '', quorum = '') {
  await page.reload();
  await page.setInputFiles('#bundle-file', {
    name: 'bundle.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify(bundle)),
  });
  await page.waitForFunction(() => (document.getElementById('bundle') as HTMLTextAreaElement).value !== '');
  await page.fill('#keys', keys);
  await page.fill('#witnesses', witnesses);
  await page.fill('#quorum', quorum);
  await page.click('#verify');
  const verdict = (await page.textContent('#verdict'))!;
  const checks = await page.$$eval('#checks li', (lis) =>
    lis.map((li) => ({ status: li.className, text: li.textContent ?? '' })),
  );
  return { verdict, checks };
}

async function screenshot(name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  expect(fs.statSync(file).size).toBeGreaterThan(1000);
  console.log(`screenshot: ${file}`);
}

describe('browser verifier page (dist/verifier.html, headless Chromium, file://)', () => {
  it('shows "verified" and every check passing for a good bundle', async () => {
    const r = await check(good, seqKey);
    expect(r.verdict).toBe('verified');
    expect(r.checks.length).toBe(6);
    expect(r.checks.every((c) => c.status === 'pass')).toBe(true);
    expect(r.checks.map((c) => c.text).join('\n')).toContain('inclusion proof');
    await screenshot('verifier-verified.png');
  });

  it('names the failed check for a bundle with a flipped proof hash', async () => {
    const proof = [...(good.inclusion as string[])];
    const bytes = Buffer.from(proof[1]!, 'base64');
    bytes[0]! ^= 1;
    proof[1] = bytes.toString('base64');
    const r = await check({ ...good, inclusion: proof }, seqKey);
    expect(r.verdict).toBe('NOT verified: inclusion proof failed');
    const failed = r.checks.filter((c) => c.status === 'fail');
    expect(failed.length).toBe(1);
    expect(failed[0]!.text).toContain('E_PROOF_INVALID');
    await screenshot('verifier-tampered.png');
  });

  it('verifies a status bundle (dirchain prove-status) and says what it shows; a changed value fails', async () => {
    const r = await check(status, seqKey);
    expect(r.verdict).toBe('verified');
    expect(r.checks.map((c) => c.text).join('\n')).toMatch(/member "bureau" is active as of size \d+/);
    const items = structuredClone(status.items) as Array<{ value: string }>;
    const value = Buffer.from(items[0]!.value, 'base64');
    value[value.length - 1]! ^= 1;
    items[0]!.value = value.toString('base64');
    const bad = await check({ ...status, items }, seqKey);
    expect(bad.verdict).toMatch(/^NOT verified: status at the checkpoint failed/);
    expect(bad.checks.find((c) => c.status === 'fail')!.text).toContain('E_PROOF_INVALID');
  });

  it('verifies a disclosure bundle and shows what it discloses, to whom; a changed value fails', async () => {
    const r = await check(disclosure, cityKey);
    expect(r.verdict).toBe('verified');
    expect(r.checks.map((c) => c.text).join('\n')).toMatch(
      /description of record \d+ \(resource\.register by civil-affairs\), disclosed to health/,
    );
    const attributes = structuredClone(disclosure.attributes) as Array<{ value: string }>;
    const value = Buffer.from(attributes[0]!.value, 'base64');
    value[value.length - 1]! ^= 1;
    attributes[0]!.value = value.toString('base64');
    const bad = await check({ ...disclosure, attributes }, cityKey);
    expect(bad.verdict).toMatch(/^NOT verified: disclosed attributes failed/);
  });

  it('fails the checkpoint check under a wrong key', async () => {
    const r = await check(good, otherKey);
    expect(r.verdict).toBe('NOT verified: checkpoint signature failed');
  });

  it('asks the witness quorum given, and files dropped key files where they belong', async () => {
    const court = generateWitnessKey('witness.example.org/court');
    const press = generateWitnessKey('witness.example.org/press');
    const cosigned = {
      ...good,
      checkpoint: cosignCheckpoint(good.checkpoint as string, court.signerKey, { logKeys: [seqKey] }),
    };
    const witnesses = `${court.verifierKey}\n${press.verifierKey}`;
    const one = await check(cosigned, seqKey, witnesses, '1');
    expect(one.verdict).toBe('verified');
    expect(one.checks.find((c) => c.text.includes('witness cosignatures'))?.status).toBe('pass');
    const two = await check(cosigned, seqKey, witnesses, '2');
    expect(two.verdict).toBe('NOT verified: witness cosignatures failed');

    // Dropping a log key file and a witness key file fills the right fields.
    await page.reload();
    await page.evaluate(
      ([log, witness]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([`${log}\n`], 'sequencer.pub'));
        dt.items.add(new File([`${witness}\n`], 'court.pub'));
        document.body.dispatchEvent(
          new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      },
      [seqKey, court.verifierKey],
    );
    await page.waitForFunction(
      () => (document.getElementById('witnesses') as HTMLTextAreaElement).value !== '',
    );
    expect(await page.inputValue('#keys')).toBe(seqKey);
    expect(await page.inputValue('#witnesses')).toBe(court.verifierKey);
  });

  it('made no request beyond its own file and logged no error (CSP: default-src none)', () => {
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('dist/verify.js itself loads as a module in the browser (no process, no node:) and verifies', async () => {
    const other = await context.newPage();
    try {
      const code = fs.readFileSync(path.join(repoRoot, 'dist', 'verify.js'));
      const url = `data:text/javascript;base64,${code.toString('base64')}`;
      // A string, not a function: vitest would rewrite import() inside a function's source.
      const result = await other.evaluate(`(async () => {
        const m = await import(${JSON.stringify(url)});
        const r = m.verifyBundle(${JSON.stringify(JSON.stringify(good))}, [${JSON.stringify(seqKey)}]);
        return { ok: r.ok, hasProcess: typeof globalThis.process !== 'undefined' };
      })()`);
      expect(result).toEqual({ ok: true, hasProcess: false });
    } finally {
      await other.close();
    }
  });
});
