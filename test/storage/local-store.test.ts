/**
 * The local-only store on real files in a temporary folder: modes, names, sizes,
 * erasure, a model-based property, and atomicity under SIGKILL of a real process.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isDirchainError } from '../../src/errors.js';
import { LocalStore, MAX_SECRET_BYTES } from '../../src/storage/local-store.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRITER = join(ROOT, 'test/fixtures/local-store-writer.mjs');

let base: string;
let count = 0;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'dirchain-local-'));
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

/** A path in the temporary folder that does not exist yet. */
function freshPath(): string {
  return join(base, `store-${count++}`);
}

async function fresh(): Promise<LocalStore> {
  return LocalStore.open(freshPath(), { create: true });
}

/** Resolves to the error's code when `run` rejects with a DirchainError; fails the test otherwise. */
async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (e) {
    if (isDirchainError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a DirchainError, but it resolved');
}

const bytes = (...values: number[]) => new Uint8Array(values);

describe('LocalStore', () => {
  it('puts, gets, deletes and lists, and keeps values across reopening', async () => {
    const store = await fresh();
    expect(await store.names()).toEqual([]);
    expect(await store.get('signing-key')).toBeUndefined();
    await store.put('signing-key', bytes(1, 2, 3));
    await store.put('index.key_0', bytes(9));
    await store.put('empty', new Uint8Array(0));
    await store.put('signing-key', bytes(4, 5));
    expect(await store.get('signing-key')).toEqual(bytes(4, 5));
    expect(await store.get('empty')).toEqual(new Uint8Array(0));
    expect(await store.names()).toEqual(['empty', 'index.key_0', 'signing-key']);

    const again = await LocalStore.open(store.path);
    expect(await again.get('signing-key')).toEqual(bytes(4, 5));
    expect(await again.get('index.key_0')).toEqual(bytes(9));
    expect(await again.delete('index.key_0')).toBe(true);
    expect(await again.delete('index.key_0')).toBe(false);
    expect(await again.get('index.key_0')).toBeUndefined();
    expect(await (await LocalStore.open(store.path)).names()).toEqual(['empty', 'signing-key']);
  });

  it('returns a plain Uint8Array of its own, not a Buffer that shares memory', async () => {
    const store = await fresh();
    await store.put('k', Buffer.from([7, 8]));
    const value = await store.get('k');
    expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
    expect(value?.buffer.byteLength).toBe(2);
  });

  it('makes the folder 0700 and each secret 0600, whatever the umask', async () => {
    const old = process.umask(0o000);
    try {
      const store = await fresh();
      await store.put('k', bytes(1));
      expect(statSync(store.path).mode & 0o777).toBe(0o700);
      expect(statSync(join(store.path, 'k')).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('refuses a folder group or others can reach, naming its mode, and does not fix it silently', async () => {
    const path = freshPath();
    mkdirSync(path, { mode: 0o700 });
    chmodSync(path, 0o755);
    const error = await LocalStore.open(path).catch((e: unknown) => e);
    expect(isDirchainError(error, ErrorCode.STORAGE)).toBe(true);
    expect((error as Error).message).toContain('0755');
    expect((error as { hint?: string }).hint).toMatch(/0700/);
    expect(await codeOf(() => LocalStore.open(path, { create: true }))).toBe(ErrorCode.STORAGE);
    expect(statSync(path).mode & 0o777).toBe(0o755);
    chmodSync(path, 0o710);
    expect(await codeOf(() => LocalStore.open(path))).toBe(ErrorCode.STORAGE);
    chmodSync(path, 0o700);
    await expect(LocalStore.open(path)).resolves.toBeInstanceOf(LocalStore);
  });

  it('refuses a missing folder unless asked to create it, and a file in place of the folder', async () => {
    const path = freshPath();
    expect(await codeOf(() => LocalStore.open(path))).toBe(ErrorCode.NOT_FOUND);
    writeFileSync(path, 'not a folder');
    expect(await codeOf(() => LocalStore.open(path, { create: true }))).toBe(ErrorCode.STORAGE);
    expect(await codeOf(() => LocalStore.open(42 as unknown as string))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await codeOf(() => LocalStore.open(''))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('refuses names that could leave the folder, hide, or be ambiguous', async () => {
    const store = await fresh();
    const bad: unknown[] = [
      '../x',
      'a/b',
      'a\\b',
      '',
      '.tmp-k-0',
      '.hidden',
      'a..b',
      'Key',
      'k\u0000',
      'k ',
      'é',
      'a'.repeat(129),
      42,
      null,
      undefined,
    ];
    for (const name of bad) {
      for (const run of [
        () => store.put(name as string, bytes(1)),
        () => store.get(name as string),
        () => store.delete(name as string),
      ]) {
        expect(await codeOf(run), `name ${JSON.stringify(name)}`).toBe(ErrorCode.INVALID_ARGUMENT);
      }
    }
    const error = await store.put('../x', bytes(1)).catch((e: unknown) => e);
    expect((error as Error).message).toContain('"../x"');
    expect((error as { hint?: string }).hint).toMatch(/a-z, 0-9/);
    await store.put('a'.repeat(128), bytes(1));
    await store.put('0.k-_x', bytes(1));
    expect(readdirSync(store.path).sort()).toEqual(['0.k-_x', 'a'.repeat(128)]);
    expect(existsSync(join(store.path, '..', 'x'))).toBe(false);
  });

  it('refuses values that are not bytes, and values over the limit with E_TOO_LARGE', async () => {
    const store = await fresh();
    for (const value of ['text', [1, 2], null, undefined, new ArrayBuffer(2), { length: 1 }]) {
      expect(await codeOf(() => store.put('k', value as Uint8Array))).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(await codeOf(() => store.put('k', new Uint8Array(MAX_SECRET_BYTES + 1)))).toBe(
      ErrorCode.TOO_LARGE,
    );
    expect(readdirSync(store.path)).toEqual([]);
    await store.put('k', new Uint8Array(MAX_SECRET_BYTES).fill(5));
    expect((await store.get('k'))?.length).toBe(MAX_SECRET_BYTES);
  });

  it('erases on delete: the file is gone and no temporary or backup copy is left', async () => {
    const store = await fresh();
    const secret = new TextEncoder().encode('the opening of record 17');
    await store.put('opening-17', secret);
    await store.put('opening-17', secret);
    await store.put('other', bytes(1));
    expect(readdirSync(store.path).sort()).toEqual(['opening-17', 'other']);
    expect(await store.delete('opening-17')).toBe(true);
    expect(readdirSync(store.path)).toEqual(['other']);
    expect(await store.names()).toEqual(['other']);
  });

  it('removes temporary files a crash left when opened, and never lists them', async () => {
    const store = await fresh();
    await store.put('k', bytes(1));
    writeFileSync(join(store.path, '.tmp-k-0123456789abcdef'), 'torn');
    expect(await store.names()).toEqual(['k']);
    await LocalStore.open(store.path);
    expect(readdirSync(store.path)).toEqual(['k']);
  });

  it('behaves like a Map over any sequence of put, delete and reopen', async () => {
    const name = fc.constantFrom('a', 'b', 'c.key', 'd-1');
    const op = fc.oneof(
      fc.record({ op: fc.constant('put' as const), name, value: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ op: fc.constant('delete' as const), name }),
      fc.record({ op: fc.constant('reopen' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        let store = await fresh();
        const model = new Map<string, Uint8Array>();
        for (const step of ops) {
          if (step.op === 'put') {
            await store.put(step.name, step.value);
            model.set(step.name, step.value);
          } else if (step.op === 'delete') {
            expect(await store.delete(step.name)).toBe(model.delete(step.name));
          } else {
            store = await LocalStore.open(store.path);
          }
          expect(await store.names()).toEqual([...model.keys()].sort());
        }
        for (const key of ['a', 'b', 'c.key', 'd-1']) expect(await store.get(key)).toEqual(model.get(key));
        expect(readdirSync(store.path).sort()).toEqual([...model.keys()].sort());
      }),
      { numRuns: 40, seed: 20240611 },
    );
  });
});

describe('LocalStore under SIGKILL', () => {
  const KILLS = 20;
  const SIZE = MAX_SECRET_BYTES;
  let compiled: string;

  beforeAll(async () => {
    // The child is plain Node: give it this module compiled, bundled with what it imports.
    const outDir = join(base, 'compiled');
    await build({
      entry: { 'local-store': join(ROOT, 'src/storage/local-store.ts') },
      format: ['esm'],
      outDir,
      config: false,
      silent: true,
      dts: false,
      sourcemap: false,
      splitting: false,
      target: 'node20',
    });
    compiled = join(outDir, 'local-store.js');
  });

  /** The fixture's patterns: 0 and 1 differ at every offset. */
  function pattern(which: 0 | 1): Uint8Array {
    const out = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) out[i] = (i & 255) ^ (which === 0 ? 0 : 255);
    return out;
  }

  /** mulberry32: a fixed seed gives the same kill moments on every run. */
  function random(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** Runs the writer, kills it `delay` ms after it is ready, and returns the number of acknowledged puts. */
  function runAndKill(path: string, delay: number): Promise<number> {
    return new Promise((done, failed) => {
      const child = spawn(process.execPath, [WRITER, compiled, path, 'secret', String(SIZE)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (out === '' && chunk.startsWith('ready\n')) setTimeout(() => child.kill('SIGKILL'), delay);
        out += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
      });
      child.on('error', failed);
      child.on('close', (_code, signal) => {
        if (signal !== 'SIGKILL') return failed(new Error(`writer ended by itself: ${err}`));
        const acks = out.split('\n').filter((line) => line.startsWith('put '));
        done(acks.length === 0 ? 0 : Number(acks[acks.length - 1]!.slice(4)));
      });
    });
  }

  it(`leaves the old value or the new one, never a torn one (${KILLS} kills)`, async () => {
    const path = freshPath();
    const initial = new TextEncoder().encode('initial value');
    await (await LocalStore.open(path, { create: true })).put('secret', initial);
    const patterns = [pattern(0), pattern(1)];
    const next = random(7);
    const found: string[] = [];
    let before: Uint8Array = initial;
    for (let kill = 0; kill < KILLS; kill++) {
      const acked = await runAndKill(path, Math.floor(next() * 120));
      const leftovers = readdirSync(path).filter((f) => f !== 'secret');
      const store = await LocalStore.open(path);
      expect(readdirSync(path)).toEqual(['secret']);
      const value = await store.get('secret');
      // Possible: the value before this run (nothing acknowledged yet), or the last acknowledged
      // put, or the one after it (in flight, renamed before the kill).
      const allowed =
        acked === 0 ? [before, patterns[1]!] : [patterns[acked % 2]!, patterns[(acked + 1) % 2]!];
      const which =
        value?.length === initial.length ? 'initial' : value?.[0] === 0 ? 'pattern 0' : 'pattern 1';
      expect(
        allowed.some((p) => p.length === value?.length && Buffer.compare(p, value) === 0),
        `kill ${kill + 1}: ${acked} puts acked, found ${value?.length} bytes starting as ${which}`,
      ).toBe(true);
      found.push(`kill ${kill + 1}: ${acked} puts acked, ${leftovers.length} temp left, found ${which}`);
      before = value!;
    }
    console.log(found.join('\n'));
  });
});
