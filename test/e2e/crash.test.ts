import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { openLedger } from '../../src/ledger/open.js';
import { repoRoot, tempDir } from '../helpers.js';
import { makeCity, newLedger } from '../ledger/fixture.js';

const writer = join(repoRoot, 'test/fixtures/crash-writer.mjs');

/** Runs the writer until it has acknowledged `acks` more records, then SIGKILLs it. */
function runAndKill(path: string, keysFile: string, acks: number, acked: Map<number, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [writer, path, keysFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = 0;
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [tag, index, hash] = line.split(' ');
      if (tag !== 'ack') return;
      acked.set(Number(index), hash!);
      if (++seen === acks) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}

describe('crash durability (real process, SIGKILL mid-stream)', () => {
  const dir = tempDir('dirchain-crash-');
  const city = makeCity(4);
  const path = join(dir.path, 'ledger');
  const keysFile = join(dir.path, 'keys.json');

  beforeAll(async () => {
    if (!existsSync(join(repoRoot, 'dist/index.js')))
      throw new Error('run `npm run build` first (npm test does)');
    const ledger = await newLedger(path, city);
    await ledger.close();
  });
  afterAll(() => dir.cleanup());

  it.each(['sync', 'buffered'] as const)(
    'every acknowledged record survives repeated kills (%s)',
    async (durability) => {
      writeFileSync(
        keysFile,
        JSON.stringify({
          sequencer: city.sequencer.signerKey,
          members: city.departments.map((d) => d.key.signerKey),
          durability,
        }),
      );
      const acked = new Map<number, string>();
      for (let round = 0; round < 3; round++) {
        await runAndKill(path, keysFile, 1500 + round * 700, acked);
        const report = await verifyLedger(path, { trustedKeys: [city.sequencer.verifierKey] });
        expect(report.error).toBeUndefined();
        expect(report.ok).toBe(true);
        const ledger = await openLedger(path);
        try {
          expect(ledger.head().size).toBe(report.records);
          for (const [index, hash] of acked) {
            expect(createHash('sha256').update(ledger.getEntry(index)).digest('hex'), `record ${index}`).toBe(
              hash,
            );
          }
        } finally {
          await ledger.close();
        }
      }
      expect(acked.size).toBeGreaterThanOrEqual(1500 + 2200 + 2900);
    },
    // Three writer processes and three full audits: slow when the machine is shared.
    180_000,
  );
});
