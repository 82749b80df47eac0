/**
 * How the CLI shows an error that stopped a command: on stderr as
 * `error E_CODE: message` and a `hint:` line, and under `error` in --json output.
 */
import { isDirchainError } from '../index.js';
import { red } from './io.js';

/** The `error` object of --json output: a dirchain code, or a system one (EIO) for an I/O failure. */
export function errorJSON(e: unknown): Record<string, unknown> {
  if (isDirchainError(e)) {
    const hint = commandHint(e);
    return { ...e.toJSON(), ...(hint === undefined ? {} : { hint }) };
  }
  const code = (e as { code?: unknown } | undefined)?.code;
  // Anything else thrown is a bug in dirchain, not something a script can act on.
  return {
    code: typeof code === 'string' ? code : 'E_INTERNAL',
    message: (e as Error)?.message ?? String(e),
  };
}

/**
 * The library's hints name what to do in its own terms (a function); here they
 * name the command that does it. Codes whose remedy is a command get it even
 * without a hint.
 */
const COMMANDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bcreateLedger\b/g, '`dirchain init <dir> --origin <name>`'],
  [/\bverifyLedger\b/g, '`dirchain audit <dir>`'],
  [/\brebuildState\b/g, '`dirchain rebuild <dir>`'],
  [/\bread it through that process\b/g, 'if it is `dirchain node`, act through it with --node <its URL>'],
];

/** `e`'s hint as a person at the command line acts on it. */
export function commandHint(e: { code: string; hint?: string }): string | undefined {
  let hint = e.hint;
  if (hint !== undefined) for (const [api, command] of COMMANDS) hint = hint.replace(api, command);
  if (e.code === 'E_READ_ONLY')
    return 'the command reads the sequencer key from <dir>/keys/sequencer.key: check it is there';
  return hint;
}

/** Writes `e` to stderr: code, message and hint for a DirchainError, the stack for anything else. */
export function writeError(e: unknown): void {
  if (isDirchainError(e)) {
    process.stderr.write(`${red(`error ${e.code}:`)} ${e.message}\n`);
    const hint = commandHint(e);
    if (hint) process.stderr.write(`hint: ${hint}\n`);
  } else {
    process.stderr.write(`${red('error:')} ${(e as Error)?.stack ?? String(e)}\n`);
  }
}
