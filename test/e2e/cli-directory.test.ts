import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const cli = join(repoRoot, 'dist/cli.js');
const tmp = tempDir('dirchain-cli-dir-');
const dir = join(tmp.path, 'city');
afterAll(() => tmp.cleanup());

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: tmp.path });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(...args: string[]): string {
  const r = run(...args);
  expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

function file(name: string, value: unknown): string {
  const p = join(tmp.path, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

describe('directory commands from the shell', () => {
  it('runs a grant through its life: members, resource, scenario, grant, logs, revocation, queries, proof', () => {
    ok('init', dir, '--origin', 'dirchain.example.gov/cli');
    // keygen prints the signer key then the verifier key; keep the signer key in a file.
    const keys: Record<string, { key: string; pub: string }> = {};
    for (const id of ['health', 'civil-affairs']) {
      const [signer, verifier] = ok('member', 'keygen', '--id', id).trim().split('\n');
      const path = join(tmp.path, `${id}.key`);
      writeFileSync(path, `${signer}\n`);
      keys[id] = { key: path, pub: verifier! };
      ok(
        'member',
        'add',
        dir,
        '--id',
        id,
        '--name',
        id,
        '--roles',
        'provider,consumer',
        '--signing-key',
        verifier!,
      );
    }
    const h = keys.health!;
    const c = keys['civil-affairs']!;
    // Only admins govern: a department adding a member is refused (exit 1, code on stderr).
    const refused = run(
      'member',
      'add',
      dir,
      '--id',
      'x',
      '--name',
      'x',
      '--roles',
      'consumer',
      '--signing-key',
      c.pub,
      '--as',
      h.key,
    );
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('E_NOT_AUTHORIZED');

    const res = {
      id: 'health/beds',
      owner: 'health',
      title: 'Hospital beds',
      description: 'Free beds per hospital',
      theme: 'health',
      format: 'table',
      updateCycle: 'hourly',
      sourceSystem: 'his',
      fields: [
        { name: 'hospital', level: 1 },
        { name: 'free', level: 1 },
        { name: 'patients', level: 4 },
      ],
      level: 4,
      sharing: 'unconditional',
      opening: 'open',
    };
    ok('resource', 'register', dir, '--file', file('res.json', res), '--as', h.key);
    ok(
      'scenario',
      'register',
      dir,
      '--file',
      file('sc.json', { id: 'beds', name: 'Bed finder', lead: 'civil-affairs', legalBasis: 'Health Act' }),
      '--as',
      c.key,
    );
    const now = Date.now();
    const grant = {
      id: 'g-1',
      consumer: 'civil-affairs',
      resource: 'health/beds',
      fields: ['hospital', 'patients'],
      scenario: 'beds',
      purpose: 'placement',
      validFrom: now - 1000,
      validTo: now + 86_400_000,
    };
    const noCounter = run('grant', 'issue', dir, '--file', file('g.json', grant), '--as', h.key);
    expect([noCounter.code, noCounter.err.includes('E_COUNTERSIGNATURE_REQUIRED')]).toEqual([1, true]);
    ok(
      'grant',
      'issue',
      dir,
      '--file',
      file('g.json', grant),
      '--as',
      h.key,
      '--approve',
      join(dir, 'keys', 'bureau.key'),
    );
    const logged = JSON.parse(
      ok(
        'access',
        'log',
        dir,
        '--grant',
        'g-1',
        '--fields',
        'hospital',
        '--count',
        '3',
        '--purpose',
        'placement',
        '--as',
        c.key,
        '--json',
      ),
    );
    expect(logged).toMatchObject({ ok: true });
    const notGranted = run(
      'access',
      'log',
      dir,
      '--grant',
      'g-1',
      '--fields',
      'free',
      '--count',
      '1',
      '--purpose',
      'x',
      '--as',
      c.key,
    );
    expect([notGranted.code, notGranted.err.includes('E_FIELD_NOT_GRANTED')]).toEqual([1, true]);
    ok('grant', 'revoke', dir, '--id', 'g-1', '--reason', 'done', '--as', h.key);
    const late = run(
      'access',
      'log',
      dir,
      '--grant',
      'g-1',
      '--fields',
      'hospital',
      '--count',
      '1',
      '--purpose',
      'x',
      '--as',
      c.key,
    );
    expect([late.code, late.err.includes('E_GRANT_REVOKED')]).toEqual([1, true]);

    // Queries, each result with its record index.
    const found = JSON.parse(ok('query', 'resources', dir, '--text', 'beds', '--json'));
    expect(found.items.map((r: { id: string }) => r.id)).toEqual(['health/beds']);
    expect(JSON.parse(ok('query', 'grant', dir, 'g-1', '--json'))).toMatchObject({
      status: 'revoked',
      countersignedBy: ['bureau'],
    });
    const logs = JSON.parse(ok('query', 'logs', dir, '--resource', 'health/beds', '--json'));
    expect(logs.items).toHaveLength(1);
    expect(logs.items[0].index).toBe(logged.index);
    const active = JSON.parse(
      ok('query', 'grants', dir, '--consumer', 'civil-affairs', '--at', String(now), '--json'),
    );
    expect(active.items.map((g: { id: string }) => g.id)).toEqual(['g-1']);
    expect(JSON.parse(ok('query', 'grants', dir, '--consumer', 'civil-affairs', '--json')).items).toEqual([]);

    // The logged access proves against the signed checkpoint.
    const bundle = file(
      'bundle.json',
      JSON.parse(ok('prove', dir, '--index', String(logged.index), '--json')),
    );
    expect(ok('verify', bundle, '--key', join(dir, 'sequencer.pub'))).toContain('verified');
    expect(ok('audit', dir, '--key', join(dir, 'sequencer.pub'))).toContain('ledger verified');
    expect(JSON.parse(ok('rebuild', dir, '--json')).records).toBe(
      Number(JSON.parse(ok('checkpoint', dir, '--json')).size),
    );
    expect(ok('audit', dir)).toContain('ledger verified');
  });

  it('every group has --help with an example or usage, and unknown actions exit 2', () => {
    for (const g of ['member', 'resource', 'scenario', 'request', 'grant', 'access', 'query']) {
      expect(ok(g, '--help')).toContain('usage:');
    }
    const r = run('grant', 'frobnicate', dir);
    expect(r.code).toBe(2);
    expect(r.err).toContain('E_INVALID_ARGUMENT');
  });
});
