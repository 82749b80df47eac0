/**
 * `dirchain demo`: builds a small city ledger in a fresh folder, appends
 * records from three departments concurrently, reads one back, proves it and
 * verifies the proof offline with the `dirchain/verify` code an auditor runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../crypto/bytes.js';
import { generateKeyPair } from '../crypto/keys.js';
import { consistencyBundleToJSON, inclusionBundleToJSON } from '../encoding/bundle.js';
import type { MemberSpec } from '../ledger/genesis.js';
import { createLedger } from '../ledger/ledger.js';
import { memberSigner } from '../ledger/member-signer.js';
import { verifyLedger } from '../ledger/verify-ledger.js';
import { verifyBundle } from '../verify.js';
import type { Ctx } from './commands.js';
import { EXIT } from './commands.js';
import { green, red } from './io.js';

const ORIGIN = 'dirchain.example.gov/city';
const DEPARTMENTS = [
  { id: 'public-security', name: 'Public Security Bureau' },
  { id: 'health', name: 'Health Commission' },
  { id: 'civil-affairs', name: 'Civil Affairs Bureau' },
];

export async function demo(ctx: Ctx, dirArg: string | undefined): Promise<number> {
  const dir = dirArg ?? mkdtempSync(join(tmpdir(), 'dirchain-demo-'));
  const say = (s: string) => ctx.out(s);
  const sequencer = generateKeyPair(ORIGIN);
  const bureau = generateKeyPair('bureau');
  const depts = DEPARTMENTS.map((d) => {
    const key = generateKeyPair(d.id);
    return { ...d, key, signer: memberSigner(key.signerKey) };
  });
  const ledger = await createLedger(join(dir, 'ledger'), {
    origin: ORIGIN,
    sequencerKey: sequencer.signerKey,
    members: [
      { id: 'bureau', name: 'City Data Bureau', roles: ['admin'], signingKey: bureau.publicKey },
      ...depts.map(
        (d): MemberSpec => ({
          id: d.id,
          name: d.name,
          roles: ['provider', 'consumer'],
          signingKey: d.key.publicKey,
        }),
      ),
    ],
  });
  say(`1. created ledger ${ORIGIN} in ${dir}`);
  say(`   sequencer key: ${sequencer.verifierKey}`);

  const started = Date.now();
  const appends: Array<Promise<{ index: number }>> = [];
  for (let i = 0; i < 300; i++) {
    const d = depts[i % depts.length]!;
    const peer = depts[(i + 1) % depts.length]!;
    appends.push(
      ledger.submit(d.signer, 'access.log', {
        grant: `grant-${peer.id}-${i % 7}`,
        resource: `${peer.id}/population-register`,
        fields: ['name', 'id_number'],
        count: 1 + (i % 5),
        purpose: 'social assistance eligibility check',
      }),
    );
  }
  const receipts = await Promise.all(appends);
  const head = ledger.head();
  say(
    `2. three departments appended ${receipts.length} access-log records concurrently in ${Date.now() - started} ms`,
  );
  say(
    `   ${head.height} blocks after genesis; tree size ${head.size}; root ${toHex(head.root).slice(0, 16)}…`,
  );

  const index = receipts[123]!.index;
  const record = ledger.getRecord(index);
  say(`3. record ${index}: ${record.kind} by ${record.author}: ${JSON.stringify(record.body)}`);

  const bundle = inclusionBundleToJSON(await ledger.proveInclusion(index));
  const report = verifyBundle(bundle, [sequencer.verifierKey]);
  say(
    `4. inclusion proof for record ${index}: ${bundle.inclusion.length} hashes; offline verify: ${report.ok ? green('verified') : red('FAILED')}`,
  );

  const tampered = {
    ...bundle,
    leaf: bundle.leaf.replace(/^(.{20})./, (m, p) => p + (m.endsWith('A') ? 'B' : 'A')),
  };
  const bad = verifyBundle(tampered, [sequencer.verifierKey]);
  const failedCheck = bad.checks.find((c) => c.status === 'fail');
  say(
    `5. the same bundle with one leaf byte changed: ${bad.ok ? red('accepted (BUG)') : `refused (${failedCheck?.name})`}`,
  );

  const consistency = consistencyBundleToJSON(await ledger.proveConsistency(receipts[10]!.index + 1));
  const c = verifyBundle(consistency, [sequencer.verifierKey]);
  say(
    `6. consistency proof ${consistency.size1} → ${consistency.size2}: ${c.ok ? green('verified') : red('FAILED')}`,
  );
  await ledger.close();

  const audit = await verifyLedger(join(dir, 'ledger'), { trustedKeys: [sequencer.verifierKey] });
  say(
    `7. whole-ledger audit: ${audit.ok ? green(`verified ${audit.records} records in ${audit.blocks} blocks`) : red(JSON.stringify(audit.error))}`,
  );
  return report.ok && !bad.ok && c.ok && audit.ok ? EXIT.ok : EXIT.failed;
}
