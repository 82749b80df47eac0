// Replay protection: the same signed bytes are accepted once, whatever order
// their timestamps come in, across reopening, and when the stored replay floor
// is stale (the sequencer skips the leaf lookup only for records newer than
// every earlier record of their author: state.ts).
import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/crypto/bytes.js';
import { isDirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import type { Receipt } from '../../src/ledger/types.js';
import { metaKey } from '../../src/storage/keys.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from './fixture.js';

const city = makeCity(3);
const dirs: Array<{ cleanup: () => void }> = [];
let ledger: Ledger | undefined;

afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
  for (const d of dirs.splice(0)) d.cleanup();
});

const codeOf = (r: Receipt | Error): string => (isDirchainError(r) ? r.code : 'accepted');

describe('replay protection', () => {
  it('refuses every copy and accepts every new record, for random timestamp orders, across reopening', async () => {
    const base = Date.now();
    // Steps: a new record by an author at a time offset, or a copy of an earlier one; some steps reopen.
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('new' as const),
        author: fc.nat(2),
        at: fc.integer({ min: -3_000, max: 3_000 }),
      }),
      fc.record({ kind: fc.constant('copy' as const), of: fc.nat() }),
      fc.constant({ kind: 'reopen' as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { maxLength: 5 }),
        async (rounds) => {
          const dir = tempDir('dirchain-replay-');
          dirs.push(dir);
          ledger = await newLedger(dir.path, city);
          const sent: Uint8Array[] = [];
          let n = 0;
          for (const round of rounds) {
            const batch: Uint8Array[] = [];
            const expected: string[] = [];
            const fresh = new Set<string>();
            for (const s of round) {
              if (s.kind === 'reopen') continue;
              if (s.kind === 'new' || sent.length === 0) {
                const author = s.kind === 'new' ? s.author : 0;
                const at = s.kind === 'new' ? s.at : 0;
                const bytes = signedBy(city.departments[author]!, { n: n++ }, { timestamp: base + at });
                batch.push(bytes);
                expected.push('accepted');
                fresh.add(Buffer.from(bytes).toString('hex'));
              } else {
                // A copy of a record from an earlier block, or from earlier in this one.
                const earlier = [...sent, ...batch.filter((b) => fresh.has(Buffer.from(b).toString('hex')))];
                const bytes = earlier[s.of % earlier.length]!;
                batch.push(bytes);
                expected.push('E_DUPLICATE');
              }
            }
            if (batch.length > 0) {
              const results = await ledger.appendMany(batch);
              expect(results.map(codeOf)).toEqual(expected);
              sent.push(...batch.filter((b) => fresh.has(Buffer.from(b).toString('hex'))));
              // One at a time too: each copy alone, after its original is durable.
              for (const b of batch.slice(0, 2))
                expect(codeOf(await ledger.append(b).catch((e) => e))).toBe('E_DUPLICATE');
            }
            if (round.some((s) => s.kind === 'reopen')) {
              await ledger.close();
              ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
            }
          }
          await ledger.close();
          ledger = undefined;
        },
      ),
      { numRuns: 12 },
    );
  });

  it('does not trust a replay floor stored at another ledger size (blocks written without it)', async () => {
    const dir = tempDir('dirchain-replay-');
    dirs.push(dir);
    ledger = await newLedger(dir.path, city);
    const genesisSize = ledger.head().size;
    const d = city.departments[0]!;
    const late = signedBy(d, { n: 'late' }, { timestamp: Date.now() + 60_000 });
    expect((await ledger.append(late)).index).toBe(genesisSize);
    await ledger.close();
    ledger = undefined;
    // As if older code had appended since: the floor names an earlier size, and a low timestamp.
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.put(metaKey('replay-floor'), utf8(`${Date.now() - 60_000}@${genesisSize}`));
    await db.close();
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    // `late` is newer than that floor, and its author has had nothing accepted since opening:
    // only the lookup can refuse it.
    expect(codeOf(await ledger.append(late).catch((e) => e))).toBe('E_DUPLICATE');
  });
});
