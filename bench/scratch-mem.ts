import { ChunkedRecords, callersAwaitingEach, presignedLedger, SignedLogStream } from './feed.js';
import { removeDir, tempDir } from './lib.js';
import { makeDirectory } from './workload.js';

const n = Number(process.argv[2] ?? 100000);
const dir = makeDirectory(1);
const records = new ChunkedRecords(new SignedLogStream(dir, 1), 8192);
const path = await tempDir('scratch');
const { ledger, append } = await presignedLedger(path, dir, (process.argv[3] as 'sync') ?? 'sync');
const step = n / 5;
for (let s = 0; s < 5; s++) {
  const base = s * step;
  await callersAwaitingEach(step, 1024, (i) => {
    const { chunk, k } = records.at(base + i);
    return append(chunk, k);
  });
  globalThis.gc?.();
  const m = process.memoryUsage();
  console.log(
    base + step,
    'rss',
    (m.rss / 2 ** 20).toFixed(0),
    'heap',
    (m.heapUsed / 2 ** 20).toFixed(0),
    'ext',
    (m.external / 2 ** 20).toFixed(0),
    'ab',
    (m.arrayBuffers / 2 ** 20).toFixed(0),
  );
}
await ledger.close();
await removeDir(path);
