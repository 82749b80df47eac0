/**
 * How the CLI shows an error that stopped a command: on stderr as
 * `error E_CODE: message` and a `hint:` line, and under `error` in --json output.
 */
import { isDirchainError } from '../errors.js';
import { red } from './io.js';

/** The `error` object of --json output: a dirchain code, or a system one (EIO) for an I/O failure. */
export function errorJSON(e: unknown): Record<string, unknown> {
  if (isDirchainError(e)) return e.toJSON();
  const code = (e as { code?: unknown } | undefined)?.code;
  // Anything else thrown is a bug in dirchain, not something a script can act on.
  return {
    code: typeof code === 'string' ? code : 'E_INTERNAL',
    message: (e as Error)?.message ?? String(e),
  };
}

/** Writes `e` to stderr: code, message and hint for a DirchainError, the stack for anything else. */
export function writeError(e: unknown): void {
  if (isDirchainError(e)) {
    process.stderr.write(`${red(`error ${e.code}:`)} ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
  } else {
    process.stderr.write(`${red('error:')} ${(e as Error)?.stack ?? String(e)}\n`);
  }
}
