/** Terminal output helpers: progress only on a TTY, NO_COLOR honoured. */
export const useColor = (): boolean => process.stderr.isTTY === true && !process.env.NO_COLOR;

export function paint(code: number, text: string): string {
  return useColor() ? `\u001b[${code}m${text}\u001b[0m` : text;
}

export const green = (t: string): string => paint(32, t);
export const red = (t: string): string => paint(31, t);
export const yellow = (t: string): string => paint(33, t);
export const dim = (t: string): string => paint(2, t);

/** A one-line progress bar on stderr; silent unless stderr is a terminal. */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #start = Date.now();
  readonly #enabled: boolean;
  readonly #format: (n: number) => string;
  #last = 0;

  /** `format` shows an amount (default: the number itself; {@link formatBytes} for bytes). */
  constructor(
    label: string,
    total: number,
    enabled = process.stderr.isTTY === true,
    format: (n: number) => string = String,
  ) {
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled;
    this.#format = format;
  }

  update(done: number): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#last < 100 && done < this.#total) return;
    this.#last = now;
    const fraction = this.#total > 0 ? Math.min(1, done / this.#total) : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = (now - this.#start) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = estimateEta(done, this.#total, seconds);
    process.stderr.write(
      `\r${this.#label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
        `${this.#format(done)}/${this.#format(this.#total)} ${Math.round(fraction * 100)}% ` +
        `${this.#format(Math.round(rate))}/s eta ${eta === undefined ? '?' : formatDuration(eta)}  `,
    );
  }

  done(): void {
    if (this.#enabled) process.stderr.write('\n');
  }
}

/** Seconds left at the average rate so far; undefined until there is a rate to go by. */
export function estimateEta(done: number, total: number, elapsedSeconds: number): number | undefined {
  if (done <= 0 || elapsedSeconds <= 0) return undefined;
  return Math.max(0, Math.ceil(((total - done) * elapsedSeconds) / done));
}

/** 42 → "42s", 75 → "1m15s", 3725 → "1h02m": short enough for a progress line. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** 1234567 → "1.2 MB": decimal units, short enough for a progress line. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
