// pods/log: a container's output as kubectl logs shows it: all of it or the last tailLines, since a
// time (sinceSeconds, sinceTime), limitBytes, timestamps, the previous run (previous=true), and
// follow=true streaming new lines until the client goes or the container's log is gone.
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../objects.js';
import { containerLogPath, parseCriLine } from '../../providers/netns/container-log.js';
import { pickContainer } from './exec.js';
import { badRequest } from './status.js';

export type LogSource = { dir: string } | { lines: () => string[] } | undefined;

const FOLLOW_POLL_MS = 200;

function readFrom(path: string, offset: number): { text: string; size: number } {
  const size = existsSync(path) ? statSync(path).size : 0;
  if (size <= offset) return { text: '', size: Math.max(size, 0) };
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return { text: buf.toString('utf8'), size };
  } finally {
    closeSync(fd);
  }
}

export function logHandler(sourceOf: (ns: string, pod: string, container: string) => LogSource) {
  return async (req: IncomingMessage, res: ServerResponse, pod: KubeObject, params: URLSearchParams): Promise<void> => {
    const container = pickContainer(pod, params.get('container'));
    const previous = params.get('previous') === 'true';
    const timestamps = params.get('timestamps') === 'true';
    const follow = params.get('follow') === 'true' && !previous;
    const tail = params.has('tailLines') ? Number(params.get('tailLines')) : undefined;
    const limit = params.has('limitBytes') ? Number(params.get('limitBytes')) : undefined;
    const since = params.has('sinceSeconds') ? Date.now() - Number(params.get('sinceSeconds')) * 1000 : params.has('sinceTime') ? Date.parse(params.get('sinceTime')!) : undefined;
    for (const [k, v] of [['tailLines', tail], ['limitBytes', limit], ['since', since]] as const) {
      if (v !== undefined && !Number.isFinite(v)) throw badRequest(`${k}: Invalid value`);
    }
    const src = sourceOf(pod.metadata.namespace!, pod.metadata.name, container);
    if (!src) throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start`);
    if ('lines' in src) {
      // agnhost servers hosted in the control plane: their log lines, without times.
      if (previous) throw badRequest(`previous terminated container "${container}" in pod "${pod.metadata.name}" not found`);
      const lines = src.lines();
      return void sendText(res, (tail !== undefined ? lines.slice(Math.max(0, lines.length - tail)) : lines).map((l) => `${l}\n`).join(''), limit);
    }
    const path = containerLogPath(src.dir, container, previous);
    if (!existsSync(path)) {
      throw badRequest(previous ? `previous terminated container "${container}" in pod "${pod.metadata.name}" not found` : `container "${container}" in pod "${pod.metadata.name}" has written no log yet`);
    }
    const render = (text: string) =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map(parseCriLine)
        .filter((l): l is NonNullable<typeof l> => l !== undefined && (since === undefined || Date.parse(l.time) >= since))
        .map((l) => `${timestamps ? `${l.time} ` : ''}${l.text}${l.partial ? '' : '\n'}`);
    const first = readFrom(path, 0);
    let lines = render(first.text.slice(0, first.text.lastIndexOf('\n') + 1));
    if (tail !== undefined) lines = lines.slice(Math.max(0, lines.length - tail));
    if (!follow) return void sendText(res, lines.join(''), limit);
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    res.write(lines.join(''));
    let offset = first.text.lastIndexOf('\n') + 1;
    const timer = setInterval(() => {
      if (!existsSync(path)) {
        clearInterval(timer);
        return void res.end();
      }
      if (statSync(path).size < offset) offset = 0; // restarted: a new log file
      const next = readFrom(path, offset);
      const complete = next.text.slice(0, next.text.lastIndexOf('\n') + 1);
      if (complete) {
        offset += Buffer.byteLength(complete);
        res.write(render(complete).join(''));
      }
    }, FOLLOW_POLL_MS);
    req.on('close', () => clearInterval(timer));
  };
}

function sendText(res: ServerResponse, text: string, limit?: number): void {
  const body = limit !== undefined ? Buffer.from(text).subarray(0, limit) : Buffer.from(text);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}
