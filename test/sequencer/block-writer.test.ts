import { describe, expect, it } from 'vitest';
import { BlockWriter } from '../../src/sequencer/block-writer.js';

describe('BlockWriter', () => {
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('writes the first block at once and every block pushed meanwhile together in the next write', async () => {
    const writes: Array<{ blocks: number[]; done: () => void; fail: (e: unknown) => void }> = [];
    const writer = new BlockWriter<number>(
      (blocks) => new Promise((done, fail) => writes.push({ blocks, done: () => done(), fail })),
    );
    const durable: number[] = [];
    const all = [1, 2, 3, 4].map((b) => writer.push(b).then(() => durable.push(b)));
    await turn();
    expect(writes.map((w) => w.blocks)).toEqual([[1]]);
    writes[0]!.done();
    await turn();
    expect(durable).toEqual([1]);
    expect(writes.map((w) => w.blocks)).toEqual([[1], [2, 3, 4]]);
    const five = writer.push(5).then(() => durable.push(5));
    writes[1]!.done();
    await turn();
    expect(durable).toEqual([1, 2, 3, 4]);
    expect(writes[2]!.blocks).toEqual([5]);
    writes[2]!.done();
    await Promise.all([...all, five]);
    expect(durable).toEqual([1, 2, 3, 4, 5]);
  });

  it('a failed write fails its blocks, the waiting ones and every later push, and writes nothing more', async () => {
    const writes: Array<{ blocks: number[]; fail: (e: unknown) => void }> = [];
    const writer = new BlockWriter<number>(
      (blocks) => new Promise((_, fail) => writes.push({ blocks, fail })),
    );
    const settled = [1, 2].map((b) =>
      writer.push(b).then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    await turn();
    const failure = new Error('disk gone');
    writes[0]!.fail(failure);
    expect(await Promise.all(settled)).toEqual(['disk gone', 'disk gone']);
    await expect(writer.push(3)).rejects.toBe(failure);
    expect(writes).toHaveLength(1);
  });

  it('a combined write that fails after earlier ones succeeded fails exactly its blocks and what follows', async () => {
    const writes: Array<{ blocks: number[]; done: () => void; fail: (e: unknown) => void }> = [];
    const writer = new BlockWriter<number>(
      (blocks) => new Promise((done, fail) => writes.push({ blocks, done: () => done(), fail })),
    );
    const settled = [1, 2, 3].map((b) =>
      writer.push(b).then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    await turn();
    writes[0]!.done();
    await turn();
    expect(writes.map((w) => w.blocks)).toEqual([[1], [2, 3]]);
    const four = writer.push(4).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    writes[1]!.fail(new Error('disk full'));
    expect(await Promise.all([...settled, four])).toEqual(['ok', 'disk full', 'disk full', 'disk full']);
    expect(writes).toHaveLength(2);
  });
});
