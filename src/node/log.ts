/**
 * The node's structured log: one JSON object per line on stderr, so a
 * collector (journald, Loki, `jq`) reads fields rather than parsing prose, and
 * stdout stays free for what a command prints.
 *
 * Writing a line never throws: the log is called from error paths, and a field
 * that cannot be encoded must not turn one failure into two. Values JSON has no
 * form for (bigint, a cycle, a function) become strings; anything still
 * failing (a throwing getter or toJSON) costs the fields, not the line.
 */
import { randomBytes } from 'node:crypto';
import type { ErrorLog } from './http.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface NodeLog {
  /**
   * One JSON object per line: {"time": ISO-8601, "level", "msg", ...fields}, the
   * child's fields before these. Errors are written as {code?, message, stack?, cause?};
   * a field named time, level or msg is written as _time, _level or _msg.
   */
  write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** A fresh request id: 16 hex digits, unique in this process. */
  requestId(): string;
  /** A child whose every line carries `fields` (e.g. {req: id}). */
  child(fields: Record<string, unknown>): NodeLog;
}

export interface NodeLogOptions {
  /** Where lines go; default process.stderr. */
  readonly stream?: { write(s: string): unknown };
  /** The least severe level written; default 'info'. */
  readonly level?: LogLevel;
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys every line starts with; a field of the same name is written with a leading underscore. */
const RESERVED: ReadonlySet<string> = new Set(['time', 'level', 'msg']);

/** Nesting below this is written as a string, so a deep structure cannot exhaust the stack. */
const MAX_DEPTH = 32;

/** A logger writing to `options.stream` (default stderr) at `options.level` and above. */
export function createNodeLog(options: NodeLogOptions = {}): NodeLog {
  const stream = options.stream ?? process.stderr;
  const least = SEVERITY[options.level ?? 'info'];
  return logWith(stream, least, {});
}

/** Adapts a NodeLog to the `ErrorLog` of node/http.ts: each detail is one line at level 'error'. */
export function errorLogOf(log: NodeLog): ErrorLog {
  return (detail) => log.write('error', detail);
}

function logWith(
  stream: { write(s: string): unknown },
  least: number,
  bound: Record<string, unknown>,
): NodeLog {
  return {
    write(level, msg, fields) {
      const severity = SEVERITY[level];
      if (severity === undefined || severity < least) return;
      try {
        stream.write(`${line(level, msg, bound, fields)}\n`);
      } catch {
        // The stream is gone (a closed pipe); there is nowhere left to say so.
      }
    },
    // Random rather than a counter: the id may be echoed to the client, and a
    // counter would tell it how many requests the node has answered.
    requestId: () => randomBytes(8).toString('hex'),
    child: (fields) => logWith(stream, least, { ...bound, ...fields }),
  };
}

/** The JSON text of one line, without its newline. */
function line(
  level: LogLevel,
  msg: string,
  bound: Record<string, unknown>,
  fields: Record<string, unknown> | undefined,
): string {
  const head = { time: new Date().toISOString(), level, msg: typeof msg === 'string' ? msg : describe(msg) };
  try {
    const out: Record<string, unknown> = { ...head };
    for (const source of [bound, fields ?? {}])
      for (const key of Object.keys(source)) {
        const value = loggable(source[key], [], 0);
        if (value !== undefined) out[RESERVED.has(key) ? `_${key}` : key] = value;
      }
    return JSON.stringify(out);
  } catch (e) {
    return JSON.stringify({ ...head, logError: `fields not written: ${describe(e)}` });
  }
}

/**
 * `value` as something JSON.stringify writes without throwing and without
 * losing what matters for a log: errors keep their code, message and stack
 * (JSON writes an Error as `{}`), bigints and non-finite numbers become strings
 * (JSON throws on the one and writes null for the other), and an object met
 * again inside itself becomes "[Circular]".
 */
function loggable(value: unknown, ancestors: object[], depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.includes(object)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Deep]';
  const inner = [...ancestors, object];
  if (object instanceof Error) return errorFields(object, inner, depth + 1);
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  // Date and other objects that choose their JSON form.
  if (typeof toJSON === 'function') return loggable(toJSON.call(object), inner, depth + 1);
  if (Array.isArray(object)) return object.map((item) => loggable(item, inner, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) {
    const item = loggable((object as Record<string, unknown>)[key], inner, depth + 1);
    if (item !== undefined) out[key] = item;
  }
  return out;
}

/**
 * {code?, message, stack?} of an Error: `code` is DirchainError's stable code
 * (or node's, as in ENOENT). `cause` is kept too, since a DirchainError of the
 * storage layer wraps the LevelDB error that says what actually happened.
 */
function errorFields(error: Error, ancestors: object[], depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  out.message = String(error.message);
  if (typeof error.stack === 'string') out.stack = error.stack;
  if (error.cause !== undefined) out.cause = loggable(error.cause, ancestors, depth);
  return out;
}

function describe(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'unprintable error';
  }
}
