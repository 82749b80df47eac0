/**
 * A forked sequencer — one key, two histories — caught by a follower, and the
 * evidence checked offline by the auditor's `dist/verify.js`:
 *
 *   npm run build && node dist-examples/fork.js          (in a temp folder it removes)
 *   node dist-examples/fork.js ./data/fork                (keeps the folders and the evidence)
 *
 * The bureau's ledger gets a first block of records. Then a copy of its folder is taken (the
 * same sequencer key, the same history so far: a restored backup run as a second sequencer, or a
 * sequencer showing different readers different logs), and the two go on with different records
 * to the same tree size. `dirchain node` serves the first history and the health department
 * copies it with `dirchain follow --once`. Then the node at the same address serves the other
 * history: the follower refuses it with E_FORK (exit 4) and keeps both signed checkpoints as
 * fork evidence, which `node dist/verify.js <evidence> --key sequencer.pub` verifies with nothing
 * but the file and the published key (exit 0). The same file with one checkpoint put in the other's
 * place proves nothing and is refused. Exits non-zero if the fork is not caught or the evidence
 * does not verify.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  createLedger,
  DirchainError,
  generateKeyPair,
  type Head,
  isDirchainError,
  type Ledger,
  type MemberSigner,
  openLedger,
  verifyLedger,
} from 'dirchain';
import { fromBase64, toHex, verifyCheckpoint } from 'dirchain/verify';

const ORIGIN = 'dirchain.example.gov/fork';
/** Exit codes of `dirchain follow` and `verify.js` (README, CLI). */
const EXIT_FORK = 4;
const DEADLINE_MS = 40_000;

const say = (s: string) => console.log(s);
const step = (n: number, s: string) => say(`\n${n}. ${s}`);
const short = (root: Uint8Array) => `${toHex(root).slice(0, 16)}…`;
const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');

/** A file of the installed package, found through its exports map as an app that installed dirchain would. */
const packageFile = (specifier: string) => fileURLToPath(import.meta.resolve(specifier));
/** The `dirchain` command: the package.json's bin. */
function dirchainCli(): string {
  const manifest = packageFile('dirchain/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { dirchain: string } };
  return resolve(dirname(manifest), bin.dirchain);
}
const CLI = dirchainCli();
/** The auditor's one-file verifier, `dirchain/verify` as built: dist/verify.js. */
const VERIFY = packageFile('dirchain/verify');

/** Every process started and not yet exited: killed on the way out, whatever the way. */
const running = new Set<ChildProcess>();
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

/** `dirchain node` on `folder`; resolves with its URL (its first line) and a way to stop it. */
async function startNode(
  folder: string,
  listen: string,
): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, 'node', folder, '--listen', listen, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  const exited = new Promise<number | null>((ok) =>
    child.once('exit', (code) => {
      running.delete(child);
      ok(code);
    }),
  );
  const url = await new Promise<string>((ok, no) => {
    createInterface({ input: child.stdout! }).once('line', ok);
    child.once('exit', (code) =>
      no(new Error(`dirchain node ${folder} exited with ${code} before it printed its URL`)),
    );
  });
  return {
    url,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs a command to its end; its output and exit code. */
function run(file: string, args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [file, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeKey(file: string, key: string): string {
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Appends `texts` as health's notices, together in one block, so both histories grow by the same size. */
async function notices(ledger: Ledger, health: MemberSigner, texts: readonly string[]): Promise<void> {
  const entries = texts.map((text) => ledger.sign(health, 'x.notice', { clinic: 'clinic-12', text }).bytes);
  const results = await ledger.appendMany(entries, { atomic: true });
  const refused = results.find((r) => r instanceof DirchainError);
  if (refused !== undefined) throw refused;
}

async function fork(root: string): Promise<boolean> {
  const at = (...p: string[]) => join(root, ...p);
  const rel = (p: string) => relative(root, p);

  step(1, `The bureau creates its ledger in ${at('bureau')} and appends a first block`);
  mkdirSync(at('bureau', 'keys'), { recursive: true });
  mkdirSync(at('health'));
  const sequencer = generateKeyPair(ORIGIN);
  const bureau = generateKeyPair('bureau');
  const healthKey = generateKeyPair('health');
  const created = await createLedger(at('bureau', 'ledger'), {
    origin: ORIGIN,
    sequencerKey: sequencer.signerKey,
    members: [
      { id: 'bureau', name: 'City Data Bureau', roles: ['admin'], signingKey: bureau.publicKey },
      {
        id: 'health',
        name: 'Health Commission',
        roles: ['provider', 'consumer'],
        signingKey: healthKey.publicKey,
      },
    ],
  });
  const health = created.memberSigner(healthKey.signerKey);
  await notices(created, health, ['opening hours 8:00-18:00', 'vaccination days: Tuesday', 'new phone line']);
  const shared = created.head();
  await created.close();
  // The layout `dirchain init` makes, which `dirchain node` reads; the department keeps its own key.
  writeKey(at('bureau', 'keys', 'sequencer.key'), sequencer.signerKey);
  writeKey(at('bureau', 'keys', 'bureau.key'), bureau.signerKey);
  const pub = at('sequencer.pub');
  writeFileSync(pub, `${sequencer.verifierKey}\n`);
  const healthFile = writeKey(at('health', 'health.key'), healthKey.signerKey);
  say(`   size ${shared.size}, block ${shared.height}, root ${short(shared.root)}`);
  say(`   published sequencer key (${rel(pub)}): ${sequencer.verifierKey}`);

  step(2, `A copy of the folder, ${rel(at('bureau-copy'))}: the same key, the same history so far`);
  cpSync(at('bureau'), at('bureau-copy'), { recursive: true });
  say('   then each goes on with its own records, one block of the same size:');
  const heads: Head[] = [];
  for (const [folder, texts] of [
    ['bureau', ['clinic-12 closes on 1 March', 'patients move to clinic-7']],
    ['bureau-copy', ['clinic-12 stays open', 'clinic-12 hires two nurses']],
  ] as const) {
    const ledger = await openLedger(at(folder, 'ledger'), { sequencerKey: sequencer.signerKey });
    await notices(ledger, ledger.memberSigner(healthKey.signerKey), texts);
    const head = ledger.head();
    await ledger.close();
    // Both checkpoints are signed by the one published key: each alone looks perfectly good.
    const cp = verifyCheckpoint(head.checkpoint, [sequencer.verifierKey]);
    say(
      `   ${folder.padEnd(12)} size ${cp.size}, block ${head.height}, root ${short(cp.root)}, signed by ${cp.signers.join(', ')}` +
        ` — "${texts[0]}"`,
    );
    heads.push(head);
  }
  const [one, two] = heads as [Head, Head];
  if (one.size !== two.size || toHex(one.root) === toHex(two.root)) {
    say('!! the two histories should have one size and different roots');
    return false;
  }

  step(3, 'The node serves the first history; health copies it');
  let node = await startNode(at('bureau'), '127.0.0.1:0');
  const listen = new URL(node.url).host;
  say(`   dirchain node ${rel(at('bureau'))} → ${node.url}`);
  const replica = at('health', 'replica');
  const followArgs = ['follow', replica, '--from', node.url, '--key', pub, '--as', healthFile, '--once'];
  const first = run(CLI, followArgs);
  say(
    `   dirchain follow ${rel(replica)} --from ${node.url} --key ${rel(pub)} --as ${rel(healthFile)} --once`,
  );
  say(indent(first.stdout || first.stderr));
  say(`      (exit code ${first.code})`);
  let stopped = await node.stop();
  if (first.code !== 0 || stopped !== 0) {
    say(`!! the first follow should exit 0 (it exited ${first.code}; the node ${stopped})`);
    return false;
  }

  step(4, `The node at the same address, ${listen}, now serves the other history; health follows again`);
  node = await startNode(at('bureau-copy'), listen);
  say(`   dirchain node ${rel(at('bureau-copy'))} --listen ${listen} → ${node.url}`);
  const second = run(CLI, followArgs);
  say(`   dirchain follow ${rel(replica)} … --once`);
  say(indent(second.stderr || second.stdout));
  say(`      (exit code ${second.code})`);
  stopped = await node.stop();
  if (second.code !== EXIT_FORK || !second.stderr.includes('E_FORK')) {
    say(`!! the fork was not caught: follow should exit ${EXIT_FORK} with E_FORK`);
    return false;
  }
  const intact = await verifyLedger(join(replica, 'ledger'), { trustedKeys: [sequencer.verifierKey] });
  say(
    `   the replica kept what it had verified: ${intact.ok ? 'ok' : 'NOT ok'}, ${intact.records} entries in ${intact.blocks} blocks (the first history)`,
  );

  step(5, 'Anyone checks the evidence offline, with the file and the published key only');
  // The refusal names the file; it is written in the replica's folder, beside ledger/.
  const named = /in (\S+\.json)/.exec(second.stderr)?.[1];
  const files = readdirSync(replica).filter((f) => /^fork-.*\.json$/.test(f));
  if (named === undefined || files.length !== 1 || join(replica, files[0]!) !== named) {
    say(
      `!! expected the one fork-*.json the refusal names in ${rel(replica)}, found ${files.join(', ') || 'none'}`,
    );
    return false;
  }
  const evidence = named;
  const json = JSON.parse(readFileSync(evidence, 'utf8')) as {
    type: string;
    checkpoint1: string;
    checkpoint2: string;
    source: string;
    seenAt: string;
  };
  say(`   ${rel(evidence)}: ${json.type}, seen at ${json.source} on ${json.seenAt}`);
  for (const name of ['checkpoint1', 'checkpoint2'] as const) {
    const lines = json[name].split('\n');
    say(`      ${name}: ${lines[0]}, size ${lines[1]}, root ${short(fromBase64(lines[2]!))}`);
  }
  const verified = run(VERIFY, [evidence, '--key', pub]);
  const shown = relative(process.cwd(), VERIFY);
  say(`   node ${shown.startsWith('..') ? VERIFY : shown} ${rel(evidence)} --key ${rel(pub)}`);
  say(indent(verified.stdout + verified.stderr));
  say(`      (exit code ${verified.code})`);

  // A control: one checkpoint twice is no fork, and the verifier says so.
  const same = at('health', 'not-a-fork.json');
  writeFileSync(same, `${JSON.stringify({ ...json, checkpoint2: json.checkpoint1 }, null, 2)}\n`);
  const control = run(VERIFY, [same, '--key', pub]);
  say(`   the same file with checkpoint1 in checkpoint2's place (${rel(same)}):`);
  say(indent(control.stdout + control.stderr));
  say(`      (exit code ${control.code})`);

  const proved = verified.code === 0 && verified.stdout.includes('the evidence proves the log forked');
  say(
    proved && control.code !== 0
      ? `\n   fork caught: two checkpoints of size ${one.size} signed by ${ORIGIN}'s key, roots ${short(one.root)} and ${short(two.root)}, cannot both be true`
      : '\n!! the evidence did not verify as it should',
  );
  return proved && control.code !== 0 && intact.ok && stopped === 0;
}

const kept = process.argv[2];
const root = resolve(kept ?? mkdtempSync(join(tmpdir(), 'dirchain-fork-')));
if (kept === undefined) temporary = root;
else mkdirSync(root, { recursive: true });
const watchdog = setTimeout(() => {
  say(`!! not finished after ${DEADLINE_MS} ms: stopping`);
  process.exit(1); // the exit handler kills the node
}, DEADLINE_MS);
watchdog.unref();
let ok = false;
try {
  ok = await fork(root);
} catch (e) {
  console.error(`fork: ${isDirchainError(e) ? `${e.code}: ${e.message}` : String(e)}`);
} finally {
  for (const c of running) c.kill('SIGTERM');
  clearTimeout(watchdog);
}
if (kept === undefined) {
  rmSync(root, { recursive: true, force: true });
  temporary = undefined;
  say(`\n(removed ${root})`);
} else {
  say(`\nthe folders and the evidence are in ${root}`);
}
if (!ok) process.exitCode = 1;
