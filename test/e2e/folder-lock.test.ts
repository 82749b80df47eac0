import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../../src/audit/audit.js';
import { verifyLedger } from '../../src/chain/verify.js';
import { openLedger } from '../../src/ledger/open.js';
import { LedgerStore } from '../../src/storage/store.js';
import { repoRoot, tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

const fixture = join(repoRoot, 'test/fixtures/lock-holder.mjs');

interface Child {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line starting with `prefix`. */
  waitFor(prefix: string): Promise<string>;
  exited: Promise<number | null>;
}

function start(role: 'hold' | 'intrude', path: string, keysFile: string): Child {
  const proc = spawn(process.execPath, [fixture, role, path, keysFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<{ prefix: string; resolve: (l: string) => void }> = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    if (process.env.LOCK_DEBUG && !line.startsWith('ack')) console.error(role, line);
    for (const w of waiters.splice(0)) {
      if (line.startsWith(w.prefix)) w.resolve(line);
      else waiters.push(w);
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor: (prefix) =>
      new Promise((resolve, reject) => {
        const seen = lines.find((l) => l.startsWith(prefix));
        if (seen !== undefined) return resolve(seen);
        waiters.push({ prefix, resolve });
        void exited.then((code) => reject(new Error(`child exited (${code}) before "${prefix}": ${stderr}`)));
      }),
  };
}

describe('a folder held by a writer stays held (issue 28, item 1)', () => {
  const dir = tempDir('dirchain-lock-');
  const city = makeCity(2);
  const path = join(dir.path, 'ledger');
  const keysFile = join(dir.path, 'keys.json');

  beforeAll(async () => {
    await (await newLedger(path, city)).close();
    writeFileSync(
      keysFile,
      JSON.stringify({ sequencer: city.sequencer.signerKey, member: city.departments[0]!.key.signerKey }),
    );
  });
  afterAll(() => dir.cleanup());

  it('a second open in the writer process does not let another process write; nothing acknowledged is lost', async () => {
    const holder = start('hold', path, keysFile);
    const probed = JSON.parse((await holder.waitFor('probed ')).slice('probed '.length));
    // The same process: verifying works through the open handle; a second handle is refused.
    // The holder awaits each append, so each of its records is a block of its own and is
    // followed by that block's entry: the genesis block (2 entries) and 100 blocks of 2.
    expect(probed.verify).toEqual({ ok: true, records: 2 + 100 * 2 });
    expect(probed.writer).toBe('E_STORAGE');
    expect(probed.reader).toBe('E_STORAGE');
    // Another process: refused by the lock the writer still holds.
    const intruder = start('intrude', path, keysFile);
    const result = JSON.parse(await intruder.waitFor('{'));
    expect(await intruder.exited).toBe(0);
    expect(result).toEqual({ opened: false, code: 'E_STORAGE' });
    holder.proc.stdin!.end('continue\n');
    await holder.waitFor('done');
    expect(await holder.exited).toBe(0);

    const acked = new Map<number, string>();
    for (const line of holder.lines) {
      const [tag, index, hash] = line.split(' ');
      if (tag === 'ack') acked.set(Number(index), hash!);
    }
    expect(acked.size).toBe(300);
    const ledger = await openLedger(path);
    try {
      expect(ledger.head().size).toBe(2 + 300 * 2); // 300 blocks of one record and its block entry
      let lost = 0;
      for (const [index, hash] of acked) {
        if (createHash('sha256').update(ledger.getEntry(index)).digest('hex') !== hash) lost++;
      }
      expect(lost).toBe(0);
    } finally {
      await ledger.close();
    }
    const report = await verifyLedger(path, { trustedKeys: [city.sequencer.verifierKey] });
    expect(report).toMatchObject({ ok: true, records: 2 + 300 * 2 });
  });

  it('verifyLedger and auditLedger of a folder this process holds read it at the moment of the call', async () => {
    const ledger = await openLedger(path, { sequencerKey: city.sequencer.signerKey });
    try {
      const before = ledger.head().size;
      // Appends run while the verification reads: it sees the snapshot's head, not theirs.
      const appending = Promise.all(
        Array.from({ length: 50 }, (_, i) => ledger.append(signedBy(city.departments[1]!, { during: i }))),
      );
      const [report, audit] = await Promise.all([
        verifyLedger(path, { trustedKeys: [city.sequencer.verifierKey] }),
        auditLedger(path, { trustedKeys: [city.sequencer.verifierKey] }),
      ]);
      await appending;
      expect(report.ok).toBe(true);
      expect(report.records).toBeGreaterThanOrEqual(before);
      // At most the head after the 50 appends (their records and the block entries of their blocks)...
      expect(report.records).toBeLessThanOrEqual(ledger.head().size);
      // ...and it saw a whole block: a size a block ends at, which has a checkpoint.
      expect(() => ledger.checkpoint(report.records)).not.toThrow();
      expect(audit.ok).toBe(true);
      // The handle still appends and still holds the folder after the views closed.
      await ledger.append(signedBy(city.departments[1]!, { after: true }));
      expect((await verifyLedger(path)).records).toBe(ledger.head().size);
    } finally {
      await ledger.close();
    }
  });

  it('refuses a second handle through another path to the same folder, and a create over a held folder', async () => {
    const link = join(dir.path, 'alias');
    symlinkSync(path, link);
    const ledger = await openLedger(path);
    try {
      await expect(openLedger(link)).rejects.toMatchObject({ code: 'E_STORAGE' });
      await expect(openLedger(`${path}/./`)).rejects.toMatchObject({ code: 'E_STORAGE' });
      await expect(newLedger(link, city)).rejects.toMatchObject({ code: 'E_LEDGER_EXISTS' });
    } finally {
      await ledger.close();
    }
    // Once closed, the folder opens again; an open that comes while a handle closes waits for the close.
    const again = await LedgerStore.open(link, { create: false });
    const size = again.entryCount;
    const closing = again.close();
    const third = await openLedger(path);
    try {
      await closing;
      expect(third.head().size).toBe(size);
    } finally {
      await third.close();
    }
  });

  it('concurrent opens in one process: exactly one gets the folder', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => LedgerStore.open(path, { create: false })),
    );
    const opened = results.filter((r) => r.status === 'fulfilled');
    expect(opened).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('E_STORAGE');
    await (opened[0] as PromiseFulfilledResult<LedgerStore>).value.close();
  });

  it('refuses to open a folder from a worker thread, and the main thread keeps its lock', async () => {
    const ledger = await openLedger(path, { sequencerKey: city.sequencer.signerKey });
    try {
      const worker = new Worker(
        `import('${pathToFileURL(join(repoRoot, 'dist/index.js')).href}').then((m) => m.openLedger(${JSON.stringify(path)}))
           .then(() => require('node:worker_threads').parentPort.postMessage('opened'),
                 (e) => require('node:worker_threads').parentPort.postMessage(e.code));`,
        { eval: true },
      );
      const answer = await new Promise((resolve) => worker.once('message', resolve));
      await worker.terminate();
      expect(answer).toBe('E_STORAGE');
      // Another process is still refused: the lock survived the worker's attempt.
      const intruder = start('intrude', path, keysFile);
      expect(JSON.parse(await intruder.waitFor('{'))).toEqual({ opened: false, code: 'E_STORAGE' });
      await ledger.append(signedBy(city.departments[1]!, { worker: 'refused' }));
    } finally {
      await ledger.close();
    }
  });
});
