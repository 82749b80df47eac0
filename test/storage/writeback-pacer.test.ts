import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WritebackPacer } from '../../src/storage/writeback-pacer.js';
import { tempDir } from '../helpers.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.cleanup());

const KIB = 1024;
const chunk = new Uint8Array(64 * KIB).fill(7);
const turn = () => new Promise((resolve) => setTimeout(resolve, 2));

/** Appends `bytes` to `name` in 64 KiB writes as LevelDB does, letting the watcher run between them. */
async function writeFile(name: string, bytes: number): Promise<void> {
  const fd = openSync(join(dir.path, name), 'w');
  try {
    for (let done = 0; done < bytes; done += chunk.length) {
      writeSync(fd, chunk);
      await turn();
    }
  } finally {
    closeSync(fd);
  }
}

/** Waits until `pacer` has done `n` syncs or 2 s have passed; returns its count. */
async function syncsReaching(pacer: WritebackPacer, n: number): Promise<number> {
  for (let waited = 0; pacer.syncs < n && waited < 2000; waited += 10)
    await new Promise((r) => setTimeout(r, 10));
  return pacer.syncs;
}

// inotify and fdatasync on a read-only descriptor are Linux's: elsewhere `start` declines.
describe.runIf(process.platform === 'linux')('writeback pacer', () => {
  it('syncs a growing table file each time another `everyBytes` of it is written', async () => {
    const pacer = WritebackPacer.start(dir.path, 256 * KIB)!;
    try {
      await writeFile('000005.ldb', 2048 * KIB);
      // 2 MiB at 256 KiB: at most 8; fewer only when writes arrive while a sync is under way.
      const syncs = await syncsReaching(pacer, 2);
      expect(syncs).toBeGreaterThanOrEqual(2);
      expect(syncs).toBeLessThanOrEqual(8);
    } finally {
      await pacer.close();
    }
  });

  it('leaves alone files that are not tables, and tables below the threshold', async () => {
    const pacer = WritebackPacer.start(dir.path, 256 * KIB)!;
    try {
      await writeFile('000003.log', 1024 * KIB);
      await writeFile('MANIFEST-000002', 512 * KIB);
      await writeFile('000007.ldb', 192 * KIB);
      await new Promise((r) => setTimeout(r, 100));
      expect(pacer.syncs).toBe(0);
    } finally {
      await pacer.close();
    }
  });

  it('keeps pacing after a table is deleted under it, and stops when closed', async () => {
    const pacer = WritebackPacer.start(dir.path, 128 * KIB)!;
    await writeFile('000009.ldb', 512 * KIB);
    unlinkSync(join(dir.path, '000009.ldb'));
    await writeFile('000011.ldb', 512 * KIB);
    expect(await syncsReaching(pacer, 2)).toBeGreaterThanOrEqual(2);
    await pacer.close();
    const before = pacer.syncs;
    await writeFile('000013.ldb', 1024 * KIB);
    await new Promise((r) => setTimeout(r, 100));
    expect(pacer.syncs).toBe(before);
  });
});
