// Watch, as the API server streams it: one JSON event per line ({"type","object"}), ADDED/MODIFIED/
// DELETED for the objects a request selects (an object that stops matching a selector is DELETED for
// that watch, one that starts matching is ADDED), BOOKMARK events carrying the current
// resourceVersion when the client allows them, and an ERROR event with a 410 Expired Status when the
// requested resourceVersion is older than the store's history (the client then lists again).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';
import type { ResourceType } from './resources.js';
import { groupVersion } from './resources.js';
import { selects, type Selection } from './selectors.js';
import { expired, badRequest } from './status.js';
import { toTable, type IncludeObject } from './table.js';

export interface WatchRequest {
  rt: ResourceType;
  namespace?: string;
  selection: Selection;
  params: URLSearchParams;
  table?: { include: IncludeObject };
  /** How often to send a BOOKMARK when allowed (the API server sends about one a minute). */
  bookmarkIntervalMs: number;
  /** Decorate an object as the API returns it (kind and apiVersion set). */
  present: (o: KubeObject) => KubeObject;
}

type OutType = 'ADDED' | 'MODIFIED' | 'DELETED';

export function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, w: WatchRequest): void {
  const { rt, namespace, selection, params } = w;
  const rvParam = params.get('resourceVersion') ?? '';
  if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be an integer`);
  const fromRv = rvParam === '' ? 0 : Number(rvParam);
  const bookmarks = params.get('allowWatchBookmarks') === 'true';
  const sendInitial = params.get('sendInitialEvents') === 'true';
  const timeoutSec = Number(params.get('timeoutSeconds') ?? '0');

  const inScope = (o: KubeObject) => o.kind === rt.kind && (!namespace || o.metadata.namespace === namespace);
  const matches = (o: KubeObject | undefined) => o !== undefined && inScope(o) && selects(selection, o);

  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' });
  // Clients wait for the headers before they count the watch as established: send them now.
  res.flushHeaders();
  const write = (type: string, object: unknown) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const writeObject = (type: OutType, o: KubeObject) => {
    const obj = w.present(o);
    write(type, w.table ? toTable(rt.kind, [obj], { resourceVersion: obj.metadata.resourceVersion, include: w.table.include }) : obj);
  };
  let lastRv = fromRv;
  const deliver = (ev: WatchEvent) => {
    const rv = Number(ev.object.metadata.resourceVersion);
    if (rv <= lastRv) return;
    lastRv = rv;
    const now = ev.type !== 'DELETED' && matches(ev.object);
    const before = ev.type === 'MODIFIED' ? matches(ev.old) : ev.type === 'DELETED' && matches(ev.object);
    if (ev.type === 'ADDED' && now) writeObject('ADDED', ev.object);
    else if (ev.type === 'DELETED' && before) writeObject('DELETED', ev.object);
    else if (ev.type === 'MODIFIED') {
      if (now && before) writeObject('MODIFIED', ev.object);
      else if (now) writeObject('ADDED', ev.object);
      else if (before) writeObject('DELETED', ev.object);
    }
  };
  const bookmark = (annotations?: Record<string, string>) =>
    write('BOOKMARK', { kind: rt.kind, apiVersion: groupVersion(rt), metadata: { resourceVersion: String(Math.max(lastRv, store.resourceVersion)), ...(annotations ? { annotations } : {}) } });

  // Everything below runs in one turn of the event loop: the store cannot change between the
  // snapshot (or the history replay) and the subscription, so no event is lost or doubled.
  if (rvParam === '' || rvParam === '0' || sendInitial) {
    const current = store.resourceVersion;
    for (const o of store.list(rt.kind, namespace)) if (selects(selection, o)) writeObject('ADDED', o);
    lastRv = Math.max(lastRv, current);
    if (sendInitial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
  } else {
    const past = store.eventsSince(fromRv);
    if (!past) {
      write('ERROR', expired(fromRv, store.oldestResumableVersion).toStatus());
      res.end();
      return;
    }
    for (const ev of past) deliver(ev);
  }
  const unsubscribe = store.watch(deliver);
  const timers: NodeJS.Timeout[] = [];
  if (bookmarks) timers.push(setInterval(() => bookmark(), w.bookmarkIntervalMs));
  if (timeoutSec > 0) timers.push(setTimeout(() => res.end(), timeoutSec * 1000));
  const stop = () => {
    unsubscribe();
    for (const t of timers) clearTimeout(t);
  };
  req.on('close', stop);
  res.on('close', stop);
  res.on('finish', stop);
}
