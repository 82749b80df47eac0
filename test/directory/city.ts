import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { isDirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLedger } from '../../src/ledger/open.js';
import type { CreateLedgerFromMembers, MemberSigner } from '../../src/ledger/types.js';
import type { MemberSpec, Role } from '../../src/policy/genesis.js';
import type { ResourceSpec } from '../../src/policy/schemas.js';

export const ORIGIN = 'dirchain.example.gov/city';
export const DAY = 86_400_000;

export interface Actor {
  id: string;
  key: KeyPair;
  as: MemberSigner;
}

export function actor(id: string): Actor {
  const key = generateKeyPair(id);
  return { id, key, as: memberSigner(key.signerKey) };
}

export function spec(a: Actor, roles: Role[], name = a.id): MemberSpec {
  return { id: a.id, name, roles, signingKey: a.key.publicKey };
}

/** A data bureau, three departments and an outsider-ish consumer. */
export function makeActors() {
  return {
    sequencer: generateKeyPair(ORIGIN),
    bureau: actor('bureau'),
    ps: actor('public-security'),
    health: actor('health'),
    civil: actor('civil-affairs'),
    school: actor('education'),
  };
}
export type Actors = ReturnType<typeof makeActors>;

export function cityMembers(a: Actors): MemberSpec[] {
  return [
    spec(a.bureau, ['admin']),
    spec(a.ps, ['provider', 'consumer']),
    spec(a.health, ['provider', 'consumer']),
    spec(a.civil, ['provider', 'consumer']),
    spec(a.school, ['consumer']),
  ];
}

export function openCity(
  path: string,
  a: Actors,
  options: Partial<CreateLedgerFromMembers> = {},
): Promise<Ledger> {
  return createLedger(path, {
    origin: ORIGIN,
    sequencerKey: a.sequencer.signerKey,
    members: cityMembers(a),
    ...options,
  });
}

export function resource(owner: string, id: string, over: Partial<ResourceSpec> = {}): ResourceSpec {
  return {
    id,
    owner,
    title: `Resource ${id}`,
    description: `Data held by ${owner}`,
    theme: 'population',
    format: 'table',
    updateCycle: 'daily',
    sourceSystem: `${owner}-db`,
    fields: [
      { name: 'name', level: 1 },
      { name: 'address', level: 2 },
      { name: 'id_number', level: 3 },
    ],
    level: 3,
    sharing: 'unconditional',
    opening: 'restricted',
    ...over,
  };
}

/** Registers the standard resources and a scenario; returns their ids. */
export async function seed(ledger: Ledger, a: Actors) {
  const d = ledger.directory;
  await d.registerResource(
    a.health.as,
    resource('health', 'health/records', { sharing: 'conditional', theme: 'health' }),
  );
  await d.registerResource(
    a.ps.as,
    resource('public-security', 'ps/residents', {
      fields: [
        { name: 'name', level: 1 },
        { name: 'address', level: 2 },
        { name: 'photo', level: 4 },
      ],
      level: 4,
    }),
  );
  await d.registerResource(a.ps.as, resource('public-security', 'ps/cases', { sharing: 'none', level: 4 }));
  await d.registerResource(
    a.civil.as,
    resource('civil-affairs', 'civil/marriage', {
      level: 2,
      fields: [
        { name: 'name', level: 1 },
        { name: 'spouse', level: 2 },
      ],
      theme: 'family',
    }),
  );
  await d.registerScenario(a.bureau.as, {
    id: 'social-assistance',
    name: 'Social assistance eligibility',
    lead: 'civil-affairs',
    legalBasis: 'Social Assistance Regulations art. 12',
  });
}

export function grantTerms(
  over: Partial<{
    id: string;
    consumer: string;
    resource: string;
    fields: string[];
    scenario: string;
    validFrom: number;
    validTo: number;
    request: string;
  }> = {},
) {
  const now = Date.now();
  return {
    id: 'g-1',
    consumer: 'health',
    resource: 'civil/marriage',
    fields: ['name'],
    scenario: 'social-assistance',
    purpose: 'eligibility check',
    validFrom: now - DAY,
    validTo: now + DAY,
    ...over,
  };
}

/** The code a promise (or a throwing call) is refused with, or 'accepted'. */
export async function refusal(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isDirchainError(e) ? e.code : `not a DirchainError: ${String(e)}`;
  }
  return 'accepted';
}
