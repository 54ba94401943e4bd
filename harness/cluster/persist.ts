// Persistence of the control plane's store across daemon crashes. Every change is written out at the
// end of the event-loop turn that made it (one write per turn, however many objects changed), to a
// temporary file renamed over the snapshot, so a crash leaves either the old or the new snapshot and
// never a torn one. A change acknowledged less than one turn before a SIGKILL can be lost; the
// restarted daemon then sees the state just before it (a client retrying its apply converges).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { ObjectStore } from './store.js';
import type { KubeObject } from './objects.js';

export interface StoreSnapshot {
  resourceVersion: number;
  objects: KubeObject[];
}

export class CorruptSnapshotError extends Error {
  constructor(readonly file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = 'CorruptSnapshotError';
  }
}

/** Read a snapshot; undefined when there is none; CorruptSnapshotError when it cannot be trusted. */
export function readSnapshot(file: string): StoreSnapshot | undefined {
  if (!existsSync(file)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CorruptSnapshotError(file, `not valid JSON (${(e as Error).message})`);
  }
  const s = v as Partial<StoreSnapshot>;
  if (!s || typeof s !== 'object' || !Number.isSafeInteger(s.resourceVersion) || !Array.isArray(s.objects)) {
    throw new CorruptSnapshotError(file, 'expected {resourceVersion: integer, objects: []}');
  }
  s.objects.forEach((o, i) => {
    if (!o || typeof o !== 'object' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new CorruptSnapshotError(file, `objects[${i}] has no kind or metadata.name`);
    }
  });
  return s as StoreSnapshot;
}

export class StorePersistence {
  private scheduled = false;
  private unwatch?: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly file: string,
  ) {}

  /** Write the current state now, then after every turn that changes it. */
  start(): void {
    this.flush();
    this.unwatch = this.store.watch(() => {
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  flush(): void {
    this.scheduled = false;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, this.store.snapshotJson());
    renameSync(tmp, this.file);
  }

  stop(): void {
    this.unwatch?.();
    if (this.scheduled) this.flush();
  }
}
