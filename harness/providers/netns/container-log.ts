// Container logs in the CRI format kubelet writes under /var/log/pods (one line per output line:
// "<RFC3339Nano> <stdout|stderr> <F|P> <text>"), so pods/log can filter by time and prefix
// timestamps. A restart moves the log to <container>.previous.log (kubectl logs --previous).
import { createWriteStream, existsSync, mkdirSync, renameSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** Lines longer than this are split (kubelet splits at 16 KiB, marking parts with P). */
const MAX_LINE = 16 * 1024;

export const containerLogPath = (dir: string, container: string, previous = false) => join(dir, `${container}${previous ? '.previous' : ''}.log`);

export class ContainerLogWriter {
  private out: WriteStream;
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  constructor(dir: string, container: string) {
    mkdirSync(dir, { recursive: true });
    const path = containerLogPath(dir, container);
    if (existsSync(path)) renameSync(path, containerLogPath(dir, container, true));
    this.out = createWriteStream(path, { flags: 'a', mode: 0o600 });
    // A failed log write (disk full) loses log lines, never the cluster daemon: an 'error' event
    // nobody listens to would be an uncaught exception in the daemon.
    this.out.on('error', () => undefined);
  }

  attach(stream: Readable | null | undefined, name: 'stdout' | 'stderr'): void {
    stream?.on('data', (b: Buffer) => this.write(name, b.toString('utf8')));
  }

  write(stream: 'stdout' | 'stderr', text: string): void {
    let buf = this.partial[stream] + text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      this.line(stream, buf.slice(0, nl), 'F');
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      this.line(stream, buf.slice(0, MAX_LINE), 'P');
      buf = buf.slice(MAX_LINE);
    }
    this.partial[stream] = buf;
  }

  private line(stream: string, text: string, tag: 'F' | 'P'): void {
    if (this.out.writableEnded) return; // output after close() (the container's exit is recorded after its pipes end, so none is expected)
    this.out.write(`${new Date().toISOString().replace('Z', '000000Z')} ${stream} ${tag} ${text}\n`);
  }

  close(): Promise<void> {
    for (const s of ['stdout', 'stderr'] as const) if (this.partial[s]) this.line(s, this.partial[s], 'F');
    return new Promise((r) => this.out.end(r));
  }
}

export interface CriLine {
  time: string;
  stream: string;
  partial: boolean;
  text: string;
}

export function parseCriLine(line: string): CriLine | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/.exec(line);
  return m ? { time: m[1]!, stream: m[2]!, partial: m[3] === 'P', text: m[4]! } : undefined;
}
