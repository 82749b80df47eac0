import { generateKeyPair, type KeyPair } from '../../src/crypto/keys.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { signRecord } from '../../src/encoding/record.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLedger } from '../../src/ledger/open.js';
import type { CreateLedgerFromMembers, MemberSigner } from '../../src/ledger/types.js';
import type { MemberSpec } from '../../src/policy/genesis.js';

export const ORIGIN = 'dirchain.example.gov/test';

export interface City {
  sequencer: KeyPair;
  admin: KeyPair;
  departments: Array<{ id: string; key: KeyPair; signer: MemberSigner }>;
  members: MemberSpec[];
}

export function makeCity(departments = 5): City {
  const sequencer = generateKeyPair(ORIGIN);
  const admin = generateKeyPair('bureau');
  const depts = Array.from({ length: departments }, (_, i) => {
    const key = generateKeyPair(`dept-${i}`);
    return { id: `dept-${i}`, key, signer: memberSigner(key.signerKey) };
  });
  return {
    sequencer,
    admin,
    departments: depts,
    members: [
      { id: 'bureau', name: 'Data bureau', roles: ['admin'], signingKey: admin.publicKey },
      ...depts.map(
        (d): MemberSpec => ({
          id: d.id,
          name: d.id,
          roles: ['provider', 'consumer'],
          signingKey: d.key.publicKey,
        }),
      ),
    ],
  };
}

export function newLedger(
  path: string,
  city: City,
  options: Partial<CreateLedgerFromMembers> = {},
): Promise<Ledger> {
  return createLedger(path, {
    origin: ORIGIN,
    sequencerKey: city.sequencer.signerKey,
    members: city.members,
    ...options,
  });
}

/** A record signed by a department, as its own node would make it. */
export function signedBy(
  d: { id: string; signer: MemberSigner },
  body: Record<string, unknown> = { n: 1 },
  over: Partial<{ origin: string; kind: string; timestamp: number; keyId: number; author: string }> = {},
): Uint8Array {
  return signRecord(
    {
      origin: over.origin ?? ORIGIN,
      kind: over.kind ?? 'x.test',
      author: over.author ?? d.id,
      keyId: over.keyId ?? 0,
      timestamp: over.timestamp ?? Date.now(),
      body: body as never,
    },
    d.signer.signer,
  ).bytes;
}
