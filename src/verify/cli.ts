/**
 * `node verify.js <bundle.json> --key <key>`: the auditor's verifier as one
 * file, no install. The command logic is here, free of I/O: the caller passes
 * how to read a file and where output goes, so the same code would run under
 * any runtime (standalone.ts wires it to Node).
 */
import { verifyBundle } from '../verify.js';

export interface CliIo {
  /** Reads a UTF-8 file; throws when it cannot. */
  readonly readText: (path: string) => Promise<string>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Put in by the build (tsup `define`) from package.json; absent when this file runs from source. */
declare const __DIRCHAIN_VERSION__: string | undefined;

/** The dirchain version this file was built from (`node verify.js --version`); "dev" from source. */
export const VERSION: string = typeof __DIRCHAIN_VERSION__ === 'string' ? __DIRCHAIN_VERSION__ : 'dev';

/** Exit codes, as the dirchain CLI: 0 verified, 1 a check failed, 2 usage, 3 unreadable input. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreadable: 3 } as const;

export const HELP = `usage: node verify.js <bundle.json> --key <verifier key | key file> [--key ...]
                      [--witness <witness key | file> ...] [--quorum K] [--json]
       node verify.js --version     the dirchain version this file was built from

Checks a dirchain proof bundle (from \`dirchain prove\`) offline, trusting only
the keys given: the sequencer's verifier key (its sequencer.pub) and, if you
rely on witnesses, their cosignature keys with the number K of them that must
have cosigned the checkpoint (default: all witnesses given).

Prints one line per check, then "verified" or "NOT verified: <check> failed".
--json prints the report as JSON instead.

exit codes: 0 verified, 1 a check failed, 2 usage error, 3 unreadable input

example: node verify.js bundle.json --key city/sequencer.pub --witness court.pub --quorum 1`;

/** A key given as text (`name+hash+base64`) rather than as a file to read. */
const KEY_TEXT = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/;

interface Args {
  bundle: string;
  keys: string[];
  witnesses: string[];
  quorum?: number;
  json: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args | 'help' | 'version' {
  const a: Args = { bundle: '', keys: [], witnesses: [], json: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--help' || flag === '-h') return 'help';
    else if (flag === '--version' || flag === '-v') return 'version';
    else if (flag === '--json') a.json = true;
    else if (flag === '--key') a.keys.push(value());
    else if (flag === '--witness') a.witnesses.push(value());
    else if (flag === '--quorum') {
      const v = value();
      if (!/^[0-9]+$/.test(v))
        throw new UsageError(`--quorum must be a whole number, got ${JSON.stringify(v)}`);
      a.quorum = Number(v);
    } else if (flag!.startsWith('-') && flag !== '-') throw new UsageError(`unknown option ${flag}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new UsageError('give exactly one bundle file');
  if (a.keys.length === 0) throw new UsageError('give the sequencer verifier key with --key (text or file)');
  if (a.quorum !== undefined && a.witnesses.length === 0)
    throw new UsageError('--quorum needs --witness keys');
  a.bundle = positional[0]!;
  return a;
}

class Unreadable extends Error {}

async function read(io: CliIo, path: string, what: string): Promise<string> {
  try {
    return await io.readText(path);
  } catch (e) {
    throw new Unreadable(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** A key argument: the key text itself, or a file holding it (such as sequencer.pub). */
async function keyArgument(io: CliIo, value: string, what: string): Promise<string> {
  return KEY_TEXT.test(value.trim()) ? value.trim() : (await read(io, value, `${what} file`)).trim();
}

/** Runs the command; returns the exit code. */
export async function verifyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args | 'help' | 'version';
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`error: ${e.message}\n\n${HELP}`);
    return EXIT.usage;
  }
  if (args === 'help' || args === 'version') {
    io.out(args === 'help' ? HELP : VERSION);
    return EXIT.ok;
  }
  let bundle: string;
  let keys: string[];
  let witnesses: string[];
  try {
    bundle = await read(io, args.bundle, 'bundle');
    keys = await Promise.all(args.keys.map((k) => keyArgument(io, k, 'key')));
    witnesses = await Promise.all(args.witnesses.map((k) => keyArgument(io, k, 'witness key')));
  } catch (e) {
    if (!(e instanceof Unreadable)) throw e;
    io.err(`error: ${e.message}`);
    return EXIT.unreadable;
  }
  const policy =
    witnesses.length > 0 ? { witnesses, ...(args.quorum === undefined ? {} : { quorum: args.quorum }) } : {};
  const report = verifyBundle(bundle, keys, policy);
  if (args.json) {
    io.out(JSON.stringify(report));
  } else {
    for (const c of report.checks)
      io.out(`${{ pass: 'ok  ', fail: 'FAIL', skip: 'skip' }[c.status]} ${c.name}: ${c.detail}`);
    io.out(
      report.ok
        ? report.kind === 'fork'
          ? 'verified: the evidence proves the log forked'
          : 'verified'
        : `NOT verified: ${report.checks.find((c) => c.status === 'fail')?.name} failed`,
    );
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
