/**
 * Progress for long work, on stderr so stdout stays clean for scripts. On a TTY one line is
 * redrawn in place; elsewhere a plain line is written per update (logs stay readable).
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  private lastDraw = '';

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly total: number,
  ) {}

  /** `done` of `total` finished; `note` is a short trailing remark. */
  update(done: number, note = ''): void {
    const text = `${this.label} ${bar(done, this.total)} ${done}/${this.total}${note ? ` ${note}` : ''}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r\u001b[2K${text}`);
      this.lastDraw = text;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Leaves the cursor on a fresh line (TTY) so what follows is not drawn over. */
  done(): void {
    if (this.stream.isTTY && this.lastDraw) this.stream.write('\n');
    this.lastDraw = '';
  }
}

export function bar(done: number, total: number, width = 20): string {
  const frac = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}
