import { describe, expect, it } from 'vitest';
import { type Group, GroupCommit } from '../../src/sequencer/group-commit.js';

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

describe('GroupCommit pipelining', () => {
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

  /** A queue whose writes end only when the test calls `writes[k]()`; `formed` lists each batch's values. */
  function heldWrites(limits = options) {
    const formed: number[][] = [];
    const writes: Array<() => void> = [];
    const queue = new GroupCommit<number, number>(limits, (batch) => {
      formed.push(batch.flatMap((g) => g.items.map((i) => i.value)));
      return new Promise<void>((done) => {
        writes.push(() => {
          for (const g of batch) for (const i of g.items) i.resolve(i.value);
          done();
        });
      });
    });
    return { queue, formed, writes, order: [] as number[] };
  }

  it('forms the next batch from items that arrive while a write is in flight, before that write ends', async () => {
    const { queue, formed, writes, order } = heldWrites();
    const first = queue.push([{ value: 1, bytes: 1 }], false)[0]!.then((v) => order.push(v));
    await turn();
    await turn();
    expect(formed).toEqual([[1]]);
    // The writer now waits on write 1 with nothing queued; two items arrive in one turn.
    const later = [2, 3].map((v) =>
      queue.push([{ value: v, bytes: 1 }], false)[0]!.then((x) => order.push(x)),
    );
    await turn();
    await turn();
    expect(formed).toEqual([[1], [2, 3]]); // formed (one batch) while write 1 is still in flight
    expect(order).toEqual([]);
    writes[0]!();
    await first;
    expect(order).toEqual([1]);
    writes[1]!();
    await Promise.all(later);
    expect(order).toEqual([1, 2, 3]);
    await queue.drain();
  });

  it('keeps forming batches while writes are pending, up to twice the limits ahead', async () => {
    const { queue, formed, writes, order } = heldWrites();
    const push = (v: number) => queue.push([{ value: v, bytes: 1 }], false)[0]!.then((x) => order.push(x));
    const all = [push(1)];
    await turn();
    await turn();
    // Write 1 is in flight. Each later turn's arrivals are formed at once, not held back
    // until write 1 ends: the ledger writes the waiting ones together next.
    all.push(push(2), push(3));
    await turn();
    await turn();
    all.push(push(4), push(5), push(6));
    await turn();
    await turn();
    expect(formed).toEqual([[1], [2, 3], [4, 5, 6]]);
    // 6 items formed and not yet durable; 2 more make 8 = 2 × maxItems, a ninth would not fit.
    all.push(push(7), push(8));
    await turn();
    await turn();
    expect(formed).toEqual([[1], [2, 3], [4, 5, 6], [7, 8]]);
    all.push(push(9));
    await turn();
    await turn();
    expect(formed).toHaveLength(4);
    writes[0]!(); // 7 ahead: item 9 fits
    await turn();
    await turn();
    expect(formed).toEqual([[1], [2, 3], [4, 5, 6], [7, 8], [9]]);
    for (let w = 1; w < 5; w++) writes[w]!();
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await queue.drain();
  });

  it('forms at most 32 batches ahead of the disk, however small', async () => {
    const { queue: wide, formed, writes } = heldWrites({ ...options, maxItems: 1000 });
    const all: Promise<number>[] = [];
    for (let v = 0; v < 40; v++) {
      all.push(wide.push([{ value: v, bytes: 1 }], false)[0]!);
      await turn();
      await turn();
    }
    expect(formed).toHaveLength(32);
    writes[0]!();
    await turn();
    await turn();
    // One settled: the 8 items queued meanwhile form one batch.
    expect(formed).toHaveLength(33);
    expect(formed[32]).toEqual([32, 33, 34, 35, 36, 37, 38, 39]);
    for (let w = 1; w < 33; w++) writes[w]!();
    expect(await Promise.all(all)).toEqual(Array.from({ length: 40 }, (_, v) => v));
  });

  it('a failed write with batches formed behind it settles them all, and drain returns', async () => {
    const formed: number[][] = [];
    const writes: Array<{ done: () => void; fail: (e: unknown) => void }> = [];
    const queue = new GroupCommit<number, number>(options, (batch) => {
      formed.push(batch.flatMap((g) => g.items.map((i) => i.value)));
      return new Promise<void>((done, fail) => {
        writes.push({
          done: () => {
            for (const g of batch) for (const i of g.items) i.resolve(i.value);
            done();
          },
          fail,
        });
      });
    });
    const push = (v: number) =>
      queue.push([{ value: v, bytes: 1 }], false)[0]!.then(
        (x) => `ok ${x}`,
        (e: Error) => e.message,
      );
    const results = [push(1)];
    await turn();
    await turn();
    results.push(push(2));
    await turn();
    await turn();
    results.push(push(3));
    await turn();
    await turn();
    expect(formed).toEqual([[1], [2], [3]]);
    writes[0]!.done();
    // The write of 2 fails; 3's is failed by the writer too (as BlockWriter does), and later pushes get the failure.
    const failure = new Error('disk gone');
    writes[1]!.fail(failure);
    writes[2]!.fail(failure);
    expect(await Promise.all(results)).toEqual(['ok 1', 'disk gone', 'disk gone']);
    expect(await push(4)).toBe('disk gone');
    await queue.drain();
    expect(formed).toHaveLength(3);
  });
});
