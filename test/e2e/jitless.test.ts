// Where WebAssembly is not available (`node --jitless`), the sequencer and its
// admission workers hash a batch's events and the tree one at a time instead of
// four per pass (src/crypto/sha256x4.ts): the built package, in a real child
// process, must append and verify exactly as it does with WebAssembly.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

const dist = pathToFileURL(join(repoRoot, 'dist/index.js')).href;

/** Appends batches (short, long and one-event ones) and single records, then verifies the folder. */
const script = (ledgerPath: string): string => `
import * as lib from ${JSON.stringify(dist)};
const origin = 'jitless.example/log';
const sequencer = lib.generateKeyPair(origin);
const admin = lib.generateKeyPair('admin');
const dept = lib.generateKeyPair('dept');
const ledger = await lib.createLedger(${JSON.stringify(ledgerPath)}, {
  origin,
  sequencerKey: sequencer.signerKey,
  members: [
    { id: 'admin', name: 'Admin', roles: ['admin'], signingKey: admin.publicKey },
    { id: 'dept', name: 'Dept', roles: ['provider', 'consumer'], signingKey: dept.publicKey },
  ],
  workers: 2,
});
const workers = await ledger.workersStarted();
const signer = lib.memberSigner(dept.signerKey);
let t = Date.now();
const sizes = [64, 5, 1, 70, 3];
const receipts = [];
for (const [b, n] of sizes.entries()) {
  const bodies = Array.from({ length: n }, (_, i) => ({ b, i, pad: 'x'.repeat((i * 97) % 900) }));
  const { seal, events } = lib.signBatch(
    { origin, kind: 'x.event', author: 'dept', keyId: 0, timestamp: t++ },
    bodies,
    signer.signer,
  );
  receipts.push(ledger.appendBatch(seal, events));
}
await Promise.all(receipts);
const records = Array.from({ length: 9 }, (_, i) =>
  lib.signRecord({ origin, kind: 'x.single', author: 'dept', keyId: 0, timestamp: t++, body: { i } }, signer.signer).bytes,
);
const verdicts = await ledger.appendMany(records);
const { size, height } = ledger.head();
await ledger.close();
const report = await lib.verifyLedger(${JSON.stringify(ledgerPath)});
console.log(JSON.stringify({ wasm: typeof WebAssembly, workers, size, blocks: height + 1, accepted: verdicts.length, ok: report.ok, verified: [report.records, report.blocks], error: report.error ?? null }));
`;

describe('without WebAssembly (node --jitless)', () => {
  it('appends batches and records on worker threads and the folder verifies', () => {
    if (!existsSync(join(repoRoot, 'dist/admission-worker.js')))
      throw new Error('run `npm run build` first (npm test does)');
    const dir = tempDir('dirchain-jitless-');
    try {
      const file = join(dir.path, 'run.mjs');
      writeFileSync(file, script(join(dir.path, 'ledger')));
      const r = spawnSync(process.execPath, ['--jitless', '--no-warnings', file], { encoding: 'utf8' });
      // V8 itself says it turned WebAssembly off; nothing else may be printed.
      expect(r.stderr.replace(/^Warning: disabling flag --expose_wasm due to conflicting flags\n/, '')).toBe(
        '',
      );
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      // Genesis, the batches (one block or more, as they were grouped) and the records.
      expect(out.blocks).toBeGreaterThanOrEqual(3);
      expect(out).toEqual({
        wasm: 'undefined',
        workers: 2,
        // genesis, 5 seals with 143 events, 9 records, and the block entry ending each block
        size: 1 + 5 + 143 + 9 + out.blocks,
        blocks: out.blocks,
        accepted: 9,
        ok: true,
        verified: [1 + 5 + 143 + 9 + out.blocks, out.blocks], // every entry of every block
        error: null,
      });
    } finally {
      dir.cleanup();
    }
  });
});
