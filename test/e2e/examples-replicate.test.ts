/**
 * examples/replicate.ts and examples/fork.ts, run as a user runs them: the built
 * dist-examples/ files as processes, which start dirchain's own processes (a node,
 * replicas, a witness, followers, dist/verify.js) on 127.0.0.1. Needs the build
 * (`npm test` does it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open.js';
import { verifyCheckpoint } from '../../src/verify.js';
import { repoRoot, tempDir } from '../helpers.js';
import { type ChildResult, runScript } from './cli-child.js';

/** Runs a built example to its end (stopped after `timeoutMs`); its output and exit code. */
function runExample(name: string, args: readonly string[], timeoutMs: number): Promise<ChildResult> {
  const built = join(repoRoot, 'dist-examples', `${name}.js`);
  expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
  // SIGTERM: the example then stops the processes it started.
  return runScript(built, args, { cwd: repoRoot, timeoutMs, killSignal: 'SIGTERM' });
}

describe('examples/replicate.ts (a sequencer, a witness and two chained followers)', () => {
  it('ends with all three at the same cosigned checkpoint after follower B was SIGKILLed partway', async () => {
    const dir = tempDir('dirchain-replicate-test-');
    try {
      const r = await runExample('replicate', [dir.path], 100_000);
      expect(r.stderr).toBe('');
      expect(r.code, r.stdout).toBe(0);
      const out = r.stdout;
      // Every batch of 250 went in, none refused.
      expect(
        out.match(/^ +batch +\d+: +[\d,]+ appended, the last as record \d+ \(block \d+\)/gm),
      ).toHaveLength(16);
      expect(out).toMatch(/all 4,000 appended: the sequencer is at size [\d,]+, block \d+$/m);
      // B was killed behind the sequencer's head (at its genesis block or past it: it writes verified
      // blocks in groups), and resumed no lower.
      const killed =
        /follower B SIGKILLed partway, at size ([\d,]+) while the sequencer was at ([\d,]+) \(it exited by SIGKILL\)/.exec(
          out,
        );
      expect(killed, out).not.toBeNull();
      const num = (s: string) => Number(s.replace(/,/g, ''));
      const [killedAt, nodeAt] = [num(killed![1]!), num(killed![2]!)];
      expect(killedAt).toBeGreaterThanOrEqual(2);
      expect(killedAt).toBeLessThan(nodeAt);
      const resumed =
        /follower B restarted on the same folder, serving in [\d.]+ s at \S+: it is at size ([\d,]+)/.exec(
          out,
        );
      expect(resumed, out).not.toBeNull();
      expect(num(resumed![1]!)).toBeGreaterThanOrEqual(killedAt);
      // The closing line, and every row of the table at the one size and root.
      const same =
        /^ +all three at the same cosigned checkpoint: size ([\d,]+), root ([0-9a-f]{64}), cosigned by witness\.example\.org\/court$/m.exec(
          out,
        );
      expect(same, out).not.toBeNull();
      const size = num(same![1]!);
      expect(size).toBe(2 + 4000 + 16); // genesis block, the records, a block entry per batch
      for (const who of ['sequencer', 'cosigned', 'follower A', 'follower B'])
        expect(out).toMatch(new RegExp(`^ +${who} +size ${same![1]}  root ${same![2]!.slice(0, 16)}…`, 'm'));
      for (const who of ['follower B \\(restarted\\)', 'follower A', 'the sequencer', 'the witness'])
        expect(out).toMatch(new RegExp(`^ +${who}: exit code 0$`, 'm'));
      expect(out).toMatch(
        /verifyLedger\(follower-b\): [\d,]+ entries in 17 blocks, every record and block verified/,
      );
      expect(out).toContain(`the folders are in ${dir.path}`);

      // What it kept, checked here on its own: the cosigned note under the published keys, the
      // witness's durable record, and both replica folders at that root.
      const pub = readFileSync(join(dir.path, 'sequencer', 'sequencer.pub'), 'utf8').trim();
      const witnessKey = /its published key: (\S+)/.exec(out)![1]!;
      const note = readFileSync(join(dir.path, 'cosigned-checkpoint.txt'), 'utf8');
      const cosigned = verifyCheckpoint(note, [pub], { witnesses: [witnessKey], quorum: 1 });
      expect(cosigned.size).toBe(size);
      expect(Buffer.from(cosigned.root).toString('hex')).toBe(same![2]);
      expect(cosigned.cosigners.map((c) => c.name)).toEqual(['witness.example.org/court']);
      const state = JSON.parse(readFileSync(join(dir.path, 'witness', 'state.json'), 'utf8')) as Record<
        string,
        { size: number }
      >;
      expect(state['dirchain.example.gov/replicate']?.size).toBe(size);
      for (const folder of ['follower-a', 'follower-b']) {
        const replica = await openLedger(join(dir.path, folder, 'ledger'));
        try {
          const head = replica.head();
          expect([head.size, Buffer.from(head.root).toString('hex')], folder).toEqual([size, same![2]]);
        } finally {
          await replica.close();
        }
      }
    } finally {
      dir.cleanup();
    }
  }, 120_000);

  it('removes the folder it made for itself, and says so', async () => {
    const r = await runExample('replicate', [], 100_000);
    expect(r.code, r.stdout).toBe(0);
    const removed = /\(removed (\S+)\)/.exec(r.stdout)?.[1];
    expect(removed).toMatch(/dirchain-replicate-/);
    expect(existsSync(removed!)).toBe(false);
  }, 120_000);
});

describe('examples/fork.ts (one sequencer key, two histories)', () => {
  it('catches the fork (follow exits 4) and dist/verify.js proves it from the evidence alone', async () => {
    const dir = tempDir('dirchain-fork-test-');
    try {
      const r = await runExample('fork', [dir.path], 60_000);
      expect(r.stderr).toBe('');
      expect(r.code, r.stdout).toBe(0);
      const out = r.stdout;
      const sizes = [...out.matchAll(/^ +bureau(?:-copy)? +size (\d+), block \d+, root ([0-9a-f]{16})…/gm)];
      expect(sizes).toHaveLength(2);
      expect(sizes[0]![1]).toBe(sizes[1]![1]);
      expect(sizes[0]![2]).not.toBe(sizes[1]![2]);
      expect(out).toMatch(/^ +\(exit code 0\)\n\n4\./m); // the first follow
      expect(out).toContain(
        `error E_FORK: the log forked: two signed trees of size ${sizes[0]![1]} have different roots`,
      );
      expect(out).toMatch(/^ +\(exit code 4\)$/m);
      expect(out).toMatch(/^ +verified: the evidence proves the log forked\n +\(exit code 0\)$/m);
      expect(out).toMatch(/^ +NOT verified: one tree, two roots failed\n +\(exit code 1\)$/m);
      expect(out).toMatch(
        /fork caught: two checkpoints of size \d+ signed by dirchain\.example\.gov\/fork's key/,
      );

      // The evidence it kept verifies here too, with the published key and nothing else.
      const replica = join(dir.path, 'health', 'replica');
      const files = readdirSync(replica).filter((f) => f.startsWith('fork-'));
      expect(files).toHaveLength(1);
      const evidence = JSON.parse(readFileSync(join(replica, files[0]!), 'utf8')) as {
        type: string;
        checkpoint1: string;
        checkpoint2: string;
      };
      const pub = readFileSync(join(dir.path, 'sequencer.pub'), 'utf8').trim();
      const [one, two] = [evidence.checkpoint1, evidence.checkpoint2].map((n) => verifyCheckpoint(n, [pub]));
      expect(evidence.type).toBe('dirchain-fork/v1');
      expect(one!.size).toBe(two!.size);
      expect(Buffer.from(one!.root).equals(Buffer.from(two!.root))).toBe(false);
    } finally {
      dir.cleanup();
    }
  }, 60_000);
});
