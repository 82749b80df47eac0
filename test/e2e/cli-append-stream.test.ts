/**
 * `dirchain append` on huge input (issue 28, item 4): the file is streamed and
 * split on bytes, a line over MAX_LINE_BYTES is refused by number with
 * E_TOO_LARGE without ever being held, the lines after it are appended, and
 * the report says what was appended also when an error stops the run midway.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { append, MAX_LINE_BYTES } from '../../src/cli/append.js';
import { toBase64 } from '../../src/crypto/bytes.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { MAX_ENTRY_BYTES, signRecord } from '../../src/encoding/record.js';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { repoRoot, tempDir } from '../helpers.js';

const CLI = join(repoRoot, 'dist', 'cli.js');
const ORIGIN = 'dirchain.example.gov/city';
/** An application kind: any plain body, any active member, no grant needed. */
const KIND = 'x.access.log';
const HUGE_LINE_BYTES = 200 * 1024 * 1024;

const tmp = tempDir('dirchain-append-stream-');
afterAll(() => tmp.cleanup());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child in bytes, when it could be measured. */
  peakRss?: number;
}

const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
delete childEnv.DIRCHAIN_DIR;

function dirchain(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: childEnv });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const TIME = '/usr/bin/time';

/**
 * Runs the CLI and measures its peak RSS: with GNU time's "Maximum resident set
 * size" when it is installed, else by polling the child's VmHWM (its own
 * high-water mark, so polling only has to catch it before exit).
 */
function dirchainMeasured(args: readonly string[]): Promise<Run> {
  const useTime = existsSync(TIME);
  const [cmd, argv] = useTime
    ? [TIME, ['-v', process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const child = spawn(cmd, argv, { env: childEnv });
  let stdout = '';
  let stderr = '';
  let polled = 0;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) polled = Math.max(polled, Number(m[1]) * 1024);
        } catch {
          // exited between polls
        }
      }, 20);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (poll) clearInterval(poll);
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const peakRss = m ? Number(m[1]) * 1024 : polled > 0 ? polled : undefined;
      resolve({ code: code ?? -1, stdout, stderr, ...(peakRss === undefined ? {} : { peakRss }) });
    });
  });
}

interface AppendJSON {
  appended: number;
  first: number | null;
  last: number | null;
  refused: Array<{ line: number; code: string }>;
  failed: Array<{ line: number; error: { code: string; message: string } }>;
  size: number;
  checkpoint: string;
  error?: { code: string; message: string };
  stoppedAtLine?: number;
}

const signedLine = (i: number): string => JSON.stringify({ kind: KIND, body: { grant: `g-${i}`, count: i } });

/** Writes `pieces` to a new file through a stream, waiting on backpressure: never all in memory. */
async function writeStreamed(file: string, pieces: Iterable<string | Uint8Array>): Promise<void> {
  const out = createWriteStream(file);
  for (const p of pieces) {
    if (!out.write(p)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** The huge line: a `{"record": ...}` line with 200 MB of base64, in 1 MiB pieces. */
function* hugeLine(): Generator<string | Uint8Array> {
  yield '{"record":"';
  const mib = Buffer.alloc(1024 * 1024, 'A');
  for (let i = 0; i < HUGE_LINE_BYTES / mib.length; i++) yield mib;
  yield '"}\n';
}

let dir: string;
let keyFile: string;

beforeAll(() => {
  dir = join(tmp.path, 'city');
  const r = dirchain(['init', dir, '--origin', ORIGIN, '--json']);
  expect(r.code, r.stderr).toBe(0);
  keyFile = join(dir, 'keys', 'bureau.key');
});

/** A record signed by the root admin whose entry is exactly `size` bytes (a string body padded to fit). */
function recordOfSize(size: number): Uint8Array {
  const signer = memberSigner(readFileSync(keyFile, 'utf8').trim());
  const timestamp = Date.now();
  const sign = (pad: number) =>
    signRecord(
      { origin: ORIGIN, kind: KIND, author: signer.id, keyId: 0, timestamp, body: { pad: 'x'.repeat(pad) } },
      signer.signer,
    ).bytes;
  const pad = 60_000;
  return sign(pad + size - sign(pad).length);
}

describe('dirchain append, streamed', () => {
  it('refuses a 200 MB line and an over-cap line by number (E_TOO_LARGE), appends every other line, in bounded memory', async () => {
    const largest = recordOfSize(MAX_ENTRY_BYTES);
    expect(largest.length).toBe(MAX_ENTRY_BYTES);
    const largestLine = JSON.stringify({ record: toBase64(largest) });
    // A body that just fits in an entry but is ~6 bytes of JSON per byte of entry.
    const escaped = JSON.stringify({ kind: KIND, body: { s: '\u0001'.repeat(60_000) } });
    expect(escaped.length).toBeGreaterThan(5 * 60_000);
    const overCap = `{"kind": "${KIND}", "body": {"s": "${' '.repeat(MAX_LINE_BYTES)}"}}`;
    const before = Array.from({ length: 300 }, (_, i) => `${signedLine(i)}\n`);
    const after = Array.from({ length: 300 }, (_, i) => signedLine(1000 + i));
    const file = join(tmp.path, 'huge.ndjson');
    // Lines 1-300 valid; 301 the largest entry as base64; 302 the escaped body;
    // 303 the 200 MB line; 304 one byte too many; 305-604 valid, the last without "\n".
    const start = JSON.parse(dirchain(['checkpoint', dir, '--json']).stdout) as {
      size: number;
      height: number;
    };
    await writeStreamed(file, [
      ...before,
      `${largestLine}\n`,
      `${escaped}\n`,
      ...hugeLine(),
      `${overCap}\n`,
      after.join('\n'),
    ]);
    expect(statSync(file).size).toBeGreaterThan(HUGE_LINE_BYTES);

    const r = await dirchainMeasured(['append', dir, '--file', file, '--key', keyFile, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as AppendJSON;
    expect(report.refused).toEqual([
      { line: 303, code: 'E_TOO_LARGE' },
      { line: 304, code: 'E_TOO_LARGE' },
    ]);
    expect(report.failed.map((f) => f.line)).toEqual([303, 304]);
    expect(report.failed[0]!.error.message).toContain(`${HUGE_LINE_BYTES + '{"record":""}'.length} bytes`);
    expect(report.appended).toBe(602);
    // The new blocks each end with a block entry: the tree grew by the records and one entry per block.
    const cp = JSON.parse(dirchain(['checkpoint', dir, '--json']).stdout) as { size: number; height: number };
    const blocks = cp.height - start.height;
    expect(report.first).toBe(start.size);
    expect(report.last).toBe(start.size + 602 + blocks - 2); // the last record is just before the last block entry
    expect(report.size).toBe(start.size + 602 + blocks);
    expect(report.error).toBeUndefined();
    expect(cp.size).toBe(report.size);
    if (r.peakRss !== undefined) {
      console.info(
        `dirchain append of a file with a 200 MB line: peak RSS ${(r.peakRss / 2 ** 20).toFixed(1)} MiB`,
      );
      // Holding the line would cost 200 MiB as bytes and as much again as a string.
      expect(r.peakRss).toBeLessThan(HUGE_LINE_BYTES);
    }
  }, 120_000);

  it('tells people the count, tree size and indexes appended, and each refused line', () => {
    const file = join(tmp.path, 'small.ndjson');
    writeFileSync(file, `${signedLine(5000)}\n${'x'.repeat(MAX_LINE_BYTES + 1)}\n\n${signedLine(5001)}\n`);
    const before = (JSON.parse(dirchain(['checkpoint', dir, '--json']).stdout) as { size: number }).size;
    const r = dirchain(['append', dir, '--file', file, '--key', keyFile]);
    expect(r.code).toBe(1);
    // One block: the 2 records and its block entry.
    expect(r.stdout).toContain(
      `appended 2 records; tree size ${before + 2 + 1} (indexes ${before}-${before + 1})`,
    );
    expect(r.stdout).toMatch(/^line 2: E_TOO_LARGE line is 524289 bytes; a line is at most 524288/m);
  });
});

describe('dirchain append stopped by an error midway (in process, the failure injected)', () => {
  it('reports the records appended before the error, the error and the first line not appended, and exits 3', async () => {
    const file = join(tmp.path, 'two-windows.ndjson');
    // Two appendMany windows (8,192 lines each); the second fails as a storage error would.
    const lines = Array.from({ length: 8192 + 100 }, (_, i) => signedLine(10_000 + i));
    lines[10] = '{"kind": 1}';
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { size, height } = JSON.parse(dirchain(['checkpoint', dir, '--json']).stdout) as {
      size: number;
      height: number;
    };
    const real = Ledger.prototype.appendMany;
    let calls = 0;
    const spy = vi.spyOn(Ledger.prototype, 'appendMany').mockImplementation(function (this: Ledger, ...args) {
      if (++calls === 2) throw new DirchainError(ErrorCode.STORAGE, 'injected: the disk went away');
      return real.apply(this, args);
    });
    const out: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await append({ json: true, out: (s) => out.push(s) }, dir, file, keyFile);
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }
    expect(code).toBe(3);
    expect(out).toHaveLength(1);
    const report = JSON.parse(out[0]!) as AppendJSON;
    expect(report.appended).toBe(8191);
    // The first window's blocks each end with a block entry.
    const cp = JSON.parse(dirchain(['checkpoint', dir, '--json']).stdout) as { size: number; height: number };
    const blocks = cp.height - height;
    expect(report.first).toBe(size);
    expect(report.last).toBe(size + 8191 + blocks - 2); // the last record is just before the last block entry
    expect(report.refused).toEqual([{ line: 11, code: 'E_DECODE' }]);
    expect(report.error?.code).toBe('E_STORAGE');
    expect(report.stoppedAtLine).toBe(8193);
    expect(report.size).toBe(size + 8191 + blocks);
    expect(cp.size).toBe(report.size);
  }, 60_000);
});

describe('dirchain append of unsigned lines over a long run (in process, the clock faked)', () => {
  const MINUTE = 60_000;

  it('signs each line when its window is appended, not when it is read: 16 minutes of input, no E_CLOCK_SKEW', async () => {
    // A ledger of its own: this test moves the clock (and so the block times) 16 minutes ahead.
    const slowDir = join(tmp.path, 'slow');
    const init = dirchain(['init', slowDir, '--origin', ORIGIN, '--json']);
    expect(init.code, init.stderr).toBe(0);
    const slowKey = join(slowDir, 'keys', 'bureau.key');
    // A named pipe: its lines arrive while the (faked) clock runs on, as from a slow producer.
    const fifo = join(tmp.path, 'slow.ndjson');
    const mk = spawnSync('mkfifo', [fifo]);
    expect(mk.status, String(mk.stderr)).toBe(0);
    const start = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const out: string[] = [];
    let code: number;
    try {
      const run = append({ json: true, out: (s) => out.push(s) }, slowDir, fifo, slowKey);
      const writer = await open(fifo, 'w'); // waits for append to open the pipe
      try {
        for (let i = 0; i < 4; i++) {
          await writer.write(`${signedLine(20_000 + i)}\n`);
          await new Promise((r) => setTimeout(r, 100)); // real time for append to read the line
          vi.setSystemTime(Date.now() + 4 * MINUTE);
        }
      } finally {
        await writer.close();
      }
      code = await run;
    } finally {
      vi.useRealTimers();
    }
    const report = JSON.parse(out[0]!) as AppendJSON;
    expect(report.refused).toEqual([]);
    expect(code).toBe(0);
    expect(report.appended).toBe(4);
    // Every record was signed at the end of the run (when its window was appended), within the
    // skew window of its block's time.
    const ledger = await openLedger(join(slowDir, 'ledger'));
    try {
      const blocks: Array<{ size: number; time: number }> = [];
      for (let h = 0; h <= ledger.head().height; h++) blocks.push(ledger.block(h).header);
      for (let i = report.first!; i <= report.last!; i++) {
        const record = ledger.getRecord(i);
        const blockTime = blocks.find((b) => b.size > i)!.time;
        expect(record.timestamp).toBeGreaterThanOrEqual(start + 16 * MINUTE);
        expect(Math.abs(blockTime - record.timestamp)).toBeLessThanOrEqual(
          ledger.params.policy.maxClockSkewMs,
        );
      }
    } finally {
      await ledger.close();
    }
  }, 60_000);
});

describe('dirchain append: its help and a safe re-run', () => {
  it('appends the example line its own --help shows', () => {
    const help = dirchain(['append', '--help']);
    expect(help.code).toBe(0);
    const example = help.stdout
      .split('\n')
      .find((l) => l.trim().startsWith('{"kind"'))!
      .trim();
    const file = join(tmp.path, 'help-example.ndjson');
    writeFileSync(file, `${example}\n`);
    const r = dirchain(['append', dir, '--file', file, '--key', keyFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as AppendJSON).appended).toBe(1);
  });

  it('--from-line resumes after the lines a previous run appended; a line number below 1 is a usage error', async () => {
    const file = join(tmp.path, 'resume.ndjson');
    writeFileSync(file, `${Array.from({ length: 5 }, (_, i) => signedLine(1000 + i)).join('\n')}\n`);
    const r = dirchain(['append', dir, '--file', file, '--key', keyFile, '--from-line', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as AppendJSON;
    expect(report.appended).toBe(3);
    // Lines 3, 4 and 5 went in, in order: their bodies name grants 1002..1004.
    const ledger = await openLedger(join(dir, 'ledger'));
    try {
      const indexes = [report.first!, report.first! + 1, report.last!];
      expect(indexes.map((x) => (ledger.getRecord(x).body as { grant: string }).grant)).toEqual([
        'g-1002',
        'g-1003',
        'g-1004',
      ]);
    } finally {
      await ledger.close();
    }
    const bad = dirchain(['append', dir, '--file', file, '--key', keyFile, '--from-line', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('E_INVALID_ARGUMENT');
  });
});
