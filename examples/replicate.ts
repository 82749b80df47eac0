/**
 * A sequencer, a witness and two followers, each its own process on 127.0.0.1,
 * replicating while records arrive:
 *
 *   npm run build && node dist-examples/replicate.js          (in a temp folder it removes)
 *   node dist-examples/replicate.js ./data/replicate           (keeps the folders there)
 *
 * The bureau creates the ledger; a witness makes its key and runs `dirchain witness serve`;
 * `dirchain node` sequences and asks the witness to cosign its checkpoints. Follower A is a
 * replica node of the sequencer (`dirchain node --replica`), follower B a replica node of A:
 * followers chain, and each serves what it verified. The health department appends a few
 * thousand records in batches through `connect` while they catch up; B is SIGKILLed partway
 * through its catch-up and restarted on its folder, where it resumes from its last durable
 * block. The run ends when all three hold the same checkpoint and the witness has cosigned it
 * (checked with `verifyCheckpoint` from `dirchain/verify`); it exits non-zero if anything
 * disagrees, and stops every process it started, also on an error.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  connect,
  createLedger,
  DirchainError,
  generateKeyPair,
  type Head,
  isDirchainError,
  type MemberSigner,
  memberSigner,
  type Receipt,
  type RemoteLedger,
  signRecord,
  verifyLedger,
} from 'dirchain';
import { toHex, verifyCheckpoint } from 'dirchain/verify';

const ORIGIN = 'dirchain.example.gov/replicate';
const WITNESS = 'witness.example.org/court';
const RECORDS = 4000;
const BATCH = 250;
/** Follower B starts once this many records are in, so it has a backlog to catch up on. */
const B_STARTS_AFTER = 1000;
/** The records from here on wait until B has been killed and restarted, so they arrive while it resumes. */
const RESUME_BEFORE = 3000;
/** How long to wait for the replicas and the witness after the last append (the node asks every 5 s). */
const SETTLE_MS = 30_000;
/** The whole run; it takes well under this. */
const DEADLINE_MS = 58_000;
const POLL_MS = 20;

const say = (s: string) => console.log(s);
const step = (n: number, s: string) => say(`\n${n}. ${s}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const count = (n: number) => n.toLocaleString('en-US');
/** A root, short enough to compare by eye. */
const short = (root: Uint8Array) => `${toHex(root).slice(0, 16)}…`;

/** The `dirchain` command of the installed package: its package.json's bin. */
function dirchainCli(): string {
  const manifest = fileURLToPath(import.meta.resolve('dirchain/package.json'));
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { dirchain: string } };
  return resolve(dirname(manifest), bin.dirchain);
}
const CLI = dirchainCli();

// ---- the processes it starts ------------------------------------------------------------------

interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  /** The first line it prints: its URL. */
  readonly url: Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its last lines on stderr, shown if the run fails. */
  readonly stderr: string[];
}

/** Every process started and not yet exited: stopped on the way out, whatever the way. */
const running = new Set<ChildProcess>();
const started: Started[] = [];
/** The temporary folder this run made, removed on the way out too (a signal, a crash). */
let temporary: string | undefined;
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
  if (temporary !== undefined) rmSync(temporary, { recursive: true, force: true, maxRetries: 3 });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`!! ${signal}: stopping`);
    process.exit(1); // the exit handler kills the children
  });
}

function start(name: string, args: readonly string[]): Started {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 20) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      ok({ code, signal });
    }),
  );
  const url = new Promise<string>((ok, no) => {
    createInterface({ input: child.stdout! }).once('line', ok);
    child.once('exit', (code, signal) =>
      no(new Error(`${name} exited (${code ?? signal}) before it printed its URL: ${stderr.join('\n')}`)),
    );
  });
  url.catch(() => {}); // awaited by whoever needs it; a process killed first has none
  const s = { name, child, url, exited, stderr };
  started.push(s);
  return s;
}

/** SIGTERM, and the exit code it ends with (SIGKILL after 10 s: then it counts as a failure). */
async function stop(s: Started): Promise<number> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode ?? 1;
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  const { code } = await s.exited;
  clearTimeout(timer);
  return code ?? 1;
}

function dirchain(args: readonly string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dirchain ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

function writeKey(file: string, key: string): string {
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** The head a node or replica serves now, or undefined while it cannot be reached or has none yet. */
async function headOf(client: RemoteLedger | undefined): Promise<Head | undefined> {
  try {
    return await client?.head();
  } catch (e) {
    // Down (or being restarted), not serving yet, or not cosigned yet: asked again later.
    const notYet = ['E_REMOTE', 'E_UNAVAILABLE', 'E_LEDGER_CLOSED', 'E_NOT_FOUND', 'E_QUORUM'];
    if (isDirchainError(e) && notYet.includes(e.code)) return undefined;
    throw e;
  }
}

// ---- the run -----------------------------------------------------------------------------------

async function replicate(root: string): Promise<boolean> {
  const at = (...p: string[]) => join(root, ...p);
  const rel = (p: string) => relative(root, p);
  const t0 = Date.now();

  step(1, `The bureau creates the ledger in ${at('sequencer')} (the folders below are in ${root})`);
  mkdirSync(at('sequencer', 'keys'), { recursive: true });
  const sequencer = generateKeyPair(ORIGIN);
  const members = [
    { id: 'bureau', name: 'City Data Bureau', roles: ['admin' as const] },
    { id: 'health', name: 'Health Commission', roles: ['provider' as const, 'consumer' as const] },
    { id: 'archive', name: 'City Archive', roles: ['auditor' as const] },
    { id: 'district', name: 'North District Office', roles: ['auditor' as const] },
  ].map((m) => ({ ...m, key: generateKeyPair(m.id) }));
  const ledger = await createLedger(at('sequencer', 'ledger'), {
    origin: ORIGIN,
    sequencerKey: sequencer.signerKey,
    members: members.map(({ id, name, roles, key }) => ({ id, name, roles, signingKey: key.publicKey })),
  });
  const genesis = ledger.head();
  await ledger.close();
  // The layout `dirchain init` makes, which `dirchain node` reads.
  writeKey(at('sequencer', 'keys', 'sequencer.key'), sequencer.signerKey);
  const pub = at('sequencer', 'sequencer.pub');
  writeFileSync(pub, `${sequencer.verifierKey}\n`);
  const keyFile = Object.fromEntries(
    members.map((m) => [m.id, writeKey(at('sequencer', 'keys', `${m.id}.key`), m.key.signerKey)]),
  );
  say(`   members: ${members.map((m) => `${m.id} (${m.roles.join(', ')})`).join('; ')}`);
  say(`   genesis block: size ${genesis.size}, root ${short(genesis.root)}`);
  say(`   published sequencer key: ${sequencer.verifierKey}`);

  step(2, `A witness makes its key and starts: dirchain witness keygen ${WITNESS}; dirchain witness serve`);
  mkdirSync(at('witness'));
  const { file: witnessKeyFile, verifierKey: witnessKey } = JSON.parse(
    dirchain(['witness', 'keygen', WITNESS, '--out', at('witness'), '--json']),
  ) as { file: string; verifierKey: string };
  const witness = start('the witness', [
    'witness',
    'serve',
    '--key',
    witnessKeyFile,
    '--log',
    `${ORIGIN}=${pub}`,
    '--state',
    at('witness', 'state.json'),
    '--listen',
    '127.0.0.1:0',
  ]);
  const witnessUrl = await witness.url;
  say(`   its published key: ${witnessKey}`);
  say(`   it cosigns checkpoints of ${ORIGIN} that only grew, at ${witnessUrl}`);

  step(3, 'The sequencer node, asking the witness to cosign: dirchain node --witness <url>=<key>');
  const node = start('the sequencer', [
    'node',
    at('sequencer'),
    '--listen',
    '127.0.0.1:0',
    '--witness',
    `${witnessUrl}=${witnessKey}`,
    '--log-level',
    'warn',
  ]);
  const nodeUrl = await node.url;
  say(`   dirchain node ${rel(at('sequencer'))} → ${nodeUrl}`);

  step(4, 'Follower A, a replica node of the sequencer: dirchain node --replica <sequencer> --key <pub>');
  const replicaArgs = (folder: string, from: string, as: string) => [
    'node',
    folder,
    '--replica',
    from,
    '--key',
    pub,
    '--as',
    keyFile[as]!,
    '--listen',
    '127.0.0.1:0',
    '--log-level',
    'warn',
  ];
  const a = start('follower A', replicaArgs(at('follower-a'), nodeUrl, 'archive'));
  const aUrl = await a.url;
  say(`   dirchain node ${rel(at('follower-a'))} --replica ${nodeUrl} (reads signed as archive) → ${aUrl}`);

  // Watching each process as a client would: every checkpoint verified under the pinned key.
  const signer = (id: string) => memberSigner(readFileSync(keyFile[id]!, 'utf8').trim());
  const watch = (url: string, as: MemberSigner) =>
    connect(url, { verifierKey: sequencer.verifierKey, as, retries: 0, timeoutMs: 5000 });
  const health = signer('health');
  const client = await connect(nodeUrl, { verifierKey: sequencer.verifierKey, as: health });
  const watchA = await watch(aUrl, signer('archive'));

  step(
    5,
    `health appends ${count(RECORDS)} records in batches of ${BATCH} through connect(), as they catch up`,
  );
  let appended = 0;
  let refused = 0;
  let lastAppend = 0;
  let watchB: RemoteLedger | undefined;
  let restarted!: () => void;
  const bRestarted = new Promise<void>((ok) => {
    restarted = ok;
  });
  const appender = (async () => {
    for (let n = 0; n < RECORDS; n += BATCH) {
      // The last quarter arrives while the restarted B resumes (the watchdog bounds this wait).
      if (n >= RESUME_BEFORE) await bRestarted;
      const entries = Array.from(
        { length: Math.min(BATCH, RECORDS - n) },
        (_, i) =>
          signRecord(
            {
              origin: ORIGIN,
              kind: 'x.meter-reading',
              author: health.id,
              keyId: health.keyId,
              timestamp: Date.now(),
              body: { clinic: `clinic-${(n + i) % 37}`, seq: n + i, litres: ((n + i) * 7) % 500 },
            },
            health.signer,
          ).bytes,
      );
      const results = await client.appendMany(entries);
      const bad = results.filter((r) => r instanceof DirchainError);
      refused += bad.length;
      appended += results.length - bad.length;
      lastAppend = Date.now();
      const [headA, headB] = await Promise.all([headOf(watchA), headOf(watchB)]);
      const last = results.filter((r): r is Receipt => !(r instanceof DirchainError)).at(-1);
      say(
        `   batch ${String(n / BATCH + 1).padStart(2)}: ${count(appended).padStart(5)} appended` +
          (last === undefined ? '' : `, the last as record ${last.index} (block ${last.height})`) +
          ` · A at ${headA === undefined ? '—' : count(headA.size)}` +
          ` · B at ${headB === undefined ? '—' : count(headB.size)}` +
          (bad.length === 0 ? '' : ` · ${bad.length} refused: ${bad[0]!.code}`),
      );
    }
  })();
  let appending = true;
  appender.then(
    () => {
      appending = false;
    },
    () => {
      appending = false; // awaited below, where its error is thrown
    },
  );

  // Follower B joins once there is a backlog, following A (not the sequencer).
  while (appending && appended < B_STARTS_AFTER) await sleep(POLL_MS);
  const bArgs = replicaArgs(at('follower-b'), aUrl, 'district');
  say(
    `   → with ${count(appended)} records in, follower B starts, a replica node of follower A (reads signed as district):` +
      ` dirchain node ${rel(at('follower-b'))} --replica ${aUrl}`,
  );
  const startedAt = Date.now();
  let b = start('follower B', bArgs);
  const bUrl = await b.url;
  watchB = await watch(bUrl, signer('district'));
  say(`   → follower B serves at ${bUrl}, ${seconds(Date.now() - startedAt)} after it started`);

  // SIGKILL while it is partway: behind the sequencer. It serves as soon as its genesis block is
  // written and catches up in the background, writing verified blocks in groups (up to 64 at a time),
  // so it may show only its genesis block until the first group is on disk.
  let killedAt: { b: number; node: number } | undefined;
  const killBy = Date.now() + 20_000;
  while (killedAt === undefined) {
    const [headB, headNode] = await Promise.all([headOf(watchB), headOf(client)]);
    if (headB !== undefined && headNode !== undefined && headB.size < headNode.size) {
      b.child.kill('SIGKILL');
      killedAt = { b: headB.size, node: headNode.size };
    } else if (Date.now() > killBy) {
      throw new Error(
        `follower B was never seen partway (at ${headB?.size}, the sequencer at ${headNode?.size})`,
      );
    } else {
      await sleep(POLL_MS);
    }
  }
  const killed = await b.exited;
  say(
    `   → follower B SIGKILLed partway, at size ${count(killedAt.b)} while the sequencer was at ${count(killedAt.node)}` +
      ` (it exited by ${killed.signal ?? `code ${killed.code}`})`,
  );
  const before = watchB;
  watchB = undefined;
  await before.close();
  const restartedAt = Date.now();
  b = start('follower B (restarted)', bArgs);
  const bUrl2 = await b.url;
  watchB = await watch(bUrl2, signer('district'));
  const resumed = await headOf(watchB);
  say(
    `   → follower B restarted on the same folder, serving in ${seconds(Date.now() - restartedAt)} at ${bUrl2}:` +
      ` it is at size ${resumed === undefined ? '?' : count(resumed.size)}, nothing it had verified lost`,
  );
  restarted();
  if (resumed === undefined || resumed.size < killedAt.b) {
    say(`!! follower B lost blocks: it showed size ${killedAt.b} before the kill, ${resumed?.size} after`);
    return false;
  }

  await appender;
  const appendedIn = lastAppend - t0;
  const final = await client.head();
  say(
    `   all ${count(appended)} appended${refused === 0 ? '' : `, ${refused} refused`}: the sequencer is at size ${count(final.size)}, block ${final.height}`,
  );
  if (refused !== 0 || appended !== RECORDS) return false;

  step(6, 'Waiting until all three hold the same checkpoint and the witness has cosigned it');
  const cosigning = await (async () => {
    // The node serves a cosigned checkpoint once the witness has answered; connect reads it (E_NOT_FOUND before).
    const by = Date.now() + SETTLE_MS;
    for (;;) {
      try {
        return await connect(nodeUrl, {
          verifierKey: sequencer.verifierKey,
          as: health,
          witnesses: [witnessKey],
          quorum: 1,
          retries: 0,
        });
      } catch (e) {
        if (Date.now() > by) throw e;
        await sleep(200);
      }
    }
  })();
  const reached: Record<string, number> = {};
  const settleBy = lastAppend + SETTLE_MS;
  let heads: { cosigned?: Head; a?: Head; b?: Head } = {};
  for (;;) {
    const [cosigned, headA, headB] = await Promise.all([headOf(cosigning), headOf(watchA), headOf(watchB)]);
    heads = { ...(cosigned && { cosigned }), ...(headA && { a: headA }), ...(headB && { b: headB }) };
    for (const [who, h] of Object.entries(heads)) if (h.size === final.size) reached[who] ??= Date.now();
    if (Object.keys(reached).length === 3) break;
    if (Date.now() > settleBy) {
      say(
        `!! after ${seconds(SETTLE_MS)}: cosigned ${heads.cosigned?.size}, A ${heads.a?.size}, B ${heads.b?.size}, the sequencer ${final.size}`,
      );
      return false;
    }
    await sleep(100);
  }

  // Each checkpoint checked on its own under the published keys, then compared.
  const cosigned = verifyCheckpoint(heads.cosigned!.checkpoint, [sequencer.verifierKey], {
    witnesses: [witnessKey],
    quorum: 1,
  });
  const atA = verifyCheckpoint(heads.a!.checkpoint, [sequencer.verifierKey]);
  const atB = verifyCheckpoint(heads.b!.checkpoint, [sequencer.verifierKey]);
  const after = (who: string) => `${seconds(reached[who]! - lastAppend)} after the last append`;
  const row = (who: string, size: number, root: Uint8Array, note: string) =>
    say(`   ${who.padEnd(11)} size ${count(size)}  root ${short(root)}  ${note}`);
  row('sequencer', final.size, final.root, '(its latest signed checkpoint)');
  row(
    'cosigned',
    cosigned.size,
    cosigned.root,
    `by ${cosigned.cosigners.map((c) => `${c.name} at ${new Date(c.time * 1000).toISOString()}`).join(', ')}, ${after('cosigned')}`,
  );
  row('follower A', atA.size, atA.root, `caught up ${after('a')}`);
  row('follower B', atB.size, atB.root, `caught up ${after('b')} (killed and restarted on the way)`);
  const same = [cosigned, atA, atB].every(
    (c) => c.size === final.size && c.origin === ORIGIN && toHex(c.root) === toHex(final.root),
  );
  if (!same || cosigned.cosigners.length !== 1) {
    say('!! the checkpoints disagree');
    return false;
  }
  say(
    `   all three at the same cosigned checkpoint: size ${count(final.size)}, root ${toHex(final.root)}, cosigned by ${WITNESS}`,
  );
  writeFileSync(at('cosigned-checkpoint.txt'), heads.cosigned!.checkpoint);
  say(`   (the cosigned checkpoint, as the node served it: ${rel(at('cosigned-checkpoint.txt'))})`);
  say(
    `   ${count(RECORDS)} records appended in ${seconds(appendedIn)}; the whole run so far ${seconds(Date.now() - t0)}`,
  );
  await Promise.all([client, watchA, watchB, cosigning].map((c) => c.close()));

  step(7, 'Every process stops on SIGTERM, and B’s folder, killed once, verifies as a ledger');
  const codes = [];
  for (const s of [b, a, node, witness]) {
    const code = await stop(s);
    codes.push(code);
    say(`   ${s.name}: exit code ${code}`);
  }
  const audit = await verifyLedger(at('follower-b', 'ledger'), { trustedKeys: [sequencer.verifierKey] });
  say(
    audit.ok
      ? `   verifyLedger(follower-b): ${count(audit.records)} entries in ${count(audit.blocks)} blocks, every record and block verified`
      : `   verifyLedger(follower-b) FAILED: ${JSON.stringify(audit.error)}`,
  );
  return audit.ok && codes.every((c) => c === 0);
}

// ---- the orchestration ---------------------------------------------------------------------------

const kept = process.argv[2];
const root = resolve(kept ?? mkdtempSync(join(tmpdir(), 'dirchain-replicate-')));
if (kept === undefined) temporary = root;
else mkdirSync(root, { recursive: true });
const watchdog = setTimeout(() => {
  say(`!! not finished after ${seconds(DEADLINE_MS)}: stopping`);
  process.exit(1); // the exit handler kills the children
}, DEADLINE_MS);
watchdog.unref();
let ok = false;
try {
  ok = await replicate(root);
} catch (e) {
  console.error(`replicate: ${isDirchainError(e) ? `${e.code}: ${e.message}` : String(e)}`);
} finally {
  for (const s of started) {
    if (s.child.exitCode === null && s.child.signalCode === null) await stop(s);
  }
  if (!ok) {
    for (const s of started) {
      if (s.stderr.length > 0) say(`   (${s.name} said on stderr: ${s.stderr.join('\n      ')})`);
    }
  }
  clearTimeout(watchdog);
}
if (kept === undefined) {
  rmSync(root, { recursive: true, force: true });
  temporary = undefined;
  say(`\n(removed ${root})`);
} else {
  say(`\nthe folders are in ${root}`);
}
if (!ok) process.exitCode = 1;
