import { describe, expect, it } from 'vitest';
import { type Group, GroupCommit } from '../../src/ledger/group-commit.js';

const options = { maxItems: 4, maxBytes: 1 << 20, maxDelayMs: 0 };

describe('GroupCommit.pushAll', () => {
  it('answers every slot of a group in order, across batches, with refusals in their slots', async () => {
    const batches: number[][] = [];
    const queue = new GroupCommit<number, string>(options, (batch: Group<number, string>[]) => {
      batches.push(batch.flatMap((g) => g.items.map((i) => i.value)));
      for (const g of batch)
        for (const i of g.items) {
          if (i.value % 5 === 3) i.reject(new Error(`refused ${i.value}`));
        }
      // Accepted ones settle when the "write" is done, as the ledger's do.
      return Promise.resolve().then(() => {
        for (const g of batch) for (const i of g.items) i.resolve(`ok ${i.value}`);
      });
    });
    const values = Array.from({ length: 10 }, (_, i) => i);
    const [results, single] = await Promise.all([
      queue.pushAll(values, () => 1, false),
      queue.push([{ value: 100, bytes: 1 }], false)[0],
    ]);
    // The first settlement stands: refused slots keep their error after the later resolve.
    expect(results.map((r) => (r instanceof Error ? r.message : r))).toEqual(
      values.map((v) => (v % 5 === 3 ? `refused ${v}` : `ok ${v}`)),
    );
    expect(single).toBe('ok 100');
    // A group is never split across batches, even one larger than maxItems.
    expect(batches[0]).toEqual(values);
  });

  it('a failed write settles every slot with the failure, and later pushes get it too', async () => {
    const failure = new Error('disk gone');
    const queue = new GroupCommit<number, string>(options, () => Promise.reject(failure));
    const results = await queue.pushAll([1, 2, 3], () => 1, true);
    expect(results).toEqual([failure, failure, failure]);
    expect(await queue.pushAll([4], () => 1, false)).toEqual([failure]);
  });

  it('an empty group resolves at once to no results', async () => {
    const queue = new GroupCommit<number, string>(options, () => Promise.resolve());
    expect(await queue.pushAll([], () => 1, false)).toEqual([]);
  });
});
