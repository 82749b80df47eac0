/**
 * node/log.ts writing into an array: one JSON line per call, levels, child
 * fields, errors, values JSON cannot encode, and request ids.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import { createNodeLog, errorLogOf, type LogLevel, type NodeLog } from '../../src/node/log.js';

/** A log writing into `chunks`, one string per stream.write call. */
function capture(level?: LogLevel): {
  log: NodeLog;
  chunks: string[];
  lines: () => Record<string, unknown>[];
} {
  const chunks: string[] = [];
  const log = createNodeLog({
    stream: {
      write: (s: string) => {
        chunks.push(s);
        return true;
      },
    },
    ...(level === undefined ? {} : { level }),
  });
  const lines = () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
  return { log, chunks, lines };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createNodeLog', () => {
  it('writes one JSON object per call: time, level, msg, then the fields', () => {
    const { log, chunks, lines } = capture();
    const before = Date.now();
    log.write('info', 'block written', { size: 12, root: 'ab12' });
    const after = Date.now();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.endsWith('\n')).toBe(true);
    const [line] = lines();
    expect(Object.keys(line!)).toEqual(['time', 'level', 'msg', 'size', 'root']);
    expect(line).toMatchObject({ level: 'info', msg: 'block written', size: 12, root: 'ab12' });
    const time = line!.time as string;
    expect(new Date(time).toISOString()).toBe(time);
    expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(time)).toBeLessThanOrEqual(after);
  });

  it('keeps a message with newlines on one line', () => {
    const { log, chunks, lines } = capture();
    log.write('warn', 'first\nsecond\r\nthird', { detail: 'a\nb' });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.indexOf('\n')).toBe(chunks[0]!.length - 1);
    expect(chunks[0]).not.toContain('\r');
    expect(lines()[0]).toMatchObject({ msg: 'first\nsecond\r\nthird', detail: 'a\nb' });
  });

  it('writes info and above by default', () => {
    const { log, lines } = capture();
    for (const level of ['debug', 'info', 'warn', 'error'] as const) log.write(level, level);
    expect(lines().map((l) => l.level)).toEqual(['info', 'warn', 'error']);
  });

  it('writes the level given and above', () => {
    const warn = capture('warn');
    const debug = capture('debug');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      warn.log.write(level, level);
      debug.log.write(level, level);
    }
    expect(warn.lines().map((l) => l.msg)).toEqual(['warn', 'error']);
    expect(debug.lines().map((l) => l.msg)).toEqual(['debug', 'info', 'warn', 'error']);
  });

  it('writes to stderr unless given a stream', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    createNodeLog().write('error', 'to stderr');
    expect(write).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(write.mock.calls[0]![0]))).toMatchObject({ level: 'error', msg: 'to stderr' });
  });

  it('gives a child its fields on every line, and not its parent', () => {
    const { log, lines } = capture();
    const child = log.child({ req: 'r1', route: 'tile' });
    const grandchild = child.child({ member: 'm' });
    child.write('info', 'one');
    child.write('info', 'two', { route: 'records', status: 201 });
    grandchild.write('info', 'three');
    log.write('info', 'four');
    const [one, two, three, four] = lines();
    expect(one).toMatchObject({ msg: 'one', req: 'r1', route: 'tile' });
    expect(two).toMatchObject({ msg: 'two', req: 'r1', route: 'records', status: 201 });
    expect(three).toMatchObject({ msg: 'three', req: 'r1', route: 'tile', member: 'm' });
    expect(four).not.toHaveProperty('req');
    expect(one).not.toHaveProperty('member');
  });

  it('keeps a child at its parent’s level', () => {
    const { log, lines } = capture('warn');
    log.child({ req: 'r' }).write('info', 'dropped');
    log.child({ req: 'r' }).write('warn', 'kept');
    expect(lines().map((l) => l.msg)).toEqual(['kept']);
  });

  it('does not let a field replace time, level or msg', () => {
    const { log, lines } = capture();
    log.child({ level: 'x' }).write('info', 'real', { msg: 'fake', time: 0 });
    const [line] = lines();
    expect(line).toMatchObject({ level: 'info', msg: 'real', _level: 'x', _msg: 'fake', _time: 0 });
    expect(typeof line!.time).toBe('string');
  });

  it('writes an Error as its message and stack', () => {
    const { log, lines } = capture();
    log.write('error', 'failed', { err: new Error('disk full') });
    const err = lines()[0]!.err as Record<string, unknown>;
    expect(err.message).toBe('disk full');
    expect(err.stack).toMatch(/^Error: disk full\n\s+at /);
    expect(err).not.toHaveProperty('code');
  });

  it('writes a DirchainError with its code, and its cause', () => {
    const { log, lines } = capture();
    const cause = Object.assign(new Error('LEVEL_IO_ERROR: no space'), { code: 'LEVEL_IO_ERROR' });
    const e = new DirchainError(ErrorCode.STORAGE, 'write failed', { cause });
    log.write('error', 'append', {
      err: e,
      nested: { list: [new DirchainError(ErrorCode.CLOCK_SKEW, 'skew')] },
    });
    const [line] = lines();
    const err = line!.err as Record<string, unknown>;
    expect(err).toMatchObject({ code: 'E_STORAGE', message: 'write failed' });
    expect(err.stack).toContain('DirchainError: write failed');
    expect(err.cause).toMatchObject({ code: 'LEVEL_IO_ERROR', message: 'LEVEL_IO_ERROR: no space' });
    expect(line!.nested).toMatchObject({ list: [{ code: 'E_CLOCK_SKEW', message: 'skew' }] });
  });

  it('writes bigints as strings instead of throwing', () => {
    const { log, lines } = capture();
    expect(() => log.write('info', 'big', { n: 2n ** 70n, list: [1n], inf: Infinity })).not.toThrow();
    expect(lines()[0]).toMatchObject({ n: '1180591620717411303424', list: ['1'], inf: 'Infinity' });
  });

  it('writes a cycle as "[Circular]", and a shared object twice', () => {
    const { log, lines } = capture();
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const shared = { k: 1 };
    const e = new Error('loop');
    e.cause = e;
    expect(() => log.write('info', 'cyclic', { a, pair: [shared, shared], e })).not.toThrow();
    const [line] = lines();
    expect(line!.a).toEqual({ name: 'a', self: '[Circular]' });
    expect(line!.pair).toEqual([{ k: 1 }, { k: 1 }]);
    expect((line!.e as Record<string, unknown>).cause).toBe('[Circular]');
  });

  it('writes dates as JSON does and drops undefined fields', () => {
    const { log, lines } = capture();
    log.write('info', 'd', { at: new Date(0), gone: undefined, fn: function named() {} });
    const [line] = lines();
    expect(line).toMatchObject({ at: '1970-01-01T00:00:00.000Z', fn: '[function named]' });
    expect(line).not.toHaveProperty('gone');
  });

  it('cuts off nesting deeper than 32 levels', () => {
    const { log, chunks } = capture();
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    expect(() => log.write('info', 'deep', { deep })).not.toThrow();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toContain('"[Deep]"');
    expect(chunks[0]).not.toContain('leaf');
  });

  it('still writes the line when a field throws as it is read', () => {
    const { log, chunks, lines } = capture();
    const hostile = {
      get boom(): never {
        throw new Error('getter');
      },
    };
    expect(() => log.write('error', 'kept', { hostile, other: 1 })).not.toThrow();
    expect(chunks).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 'error', msg: 'kept', logError: 'fields not written: getter' });
  });

  it('does not throw when the stream does', () => {
    const log = createNodeLog({
      stream: {
        write: () => {
          throw new Error('EPIPE');
        },
      },
    });
    expect(() => log.write('error', 'nowhere')).not.toThrow();
  });

  it('makes request ids unique over 10,000 calls', () => {
    const { log } = capture();
    const child = log.child({ x: 1 });
    const ids = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      ids.add(log.requestId());
      ids.add(child.requestId());
    }
    expect(ids.size).toBe(10_000);
    expect([...ids].filter((id) => !/^[0-9a-f]{16}$/.test(id))).toEqual([]);
  });
});

describe('errorLogOf', () => {
  it('writes each detail as one line at level error', () => {
    const { log, lines } = capture('error');
    const errorLog = errorLogOf(log.child({ req: 'r9' }));
    errorLog('GET /tile/0/000: TypeError: boom\n    at handler');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({
      level: 'error',
      msg: 'GET /tile/0/000: TypeError: boom\n    at handler',
      req: 'r9',
    });
  });
});
