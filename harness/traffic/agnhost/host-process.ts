// The workload process of one node: a WorkloadHost serving the agnhost containers of that node's
// pods, driven by the cluster daemon over Node's IPC channel. Pod traffic is hostile input, so the
// pod servers never share a process with the control plane: whatever a pod makes this process do,
// the daemon notices its exit, reports it in the pods' status and starts it again (workloads.ts).
//
//   node host-process.js --cnilab-cluster=C --node=N      (the flag is also the sweep marker)
//
// Messages (JSON over the IPC channel):
//   daemon → here: {op:'start', id, netnsPath, podName, args}   {op:'stop', id}
//   here → daemon: {type:'ready', pid}  {type:'started', id, ports}  {type:'startFailed', id, error}
//                  {type:'stopped', id}  {type:'exited', id, code}  {type:'logs', lines: [id, line][]}
// When the channel closes (the daemon died), this process exits: no pod server outlives its daemon.
import { WorkloadHost, type ContainerHandle } from './host.js';

export type HostRequest =
  | { op: 'start'; id: string; netnsPath: string; podName: string; args: string[] }
  | { op: 'stop'; id: string };
export type HostMessage =
  | { type: 'ready'; pid: number }
  | { type: 'started'; id: string; ports: ContainerHandle['ports'] }
  | { type: 'startFailed'; id: string; error: { name: string; message: string } }
  | { type: 'stopped'; id: string }
  | { type: 'exited'; id: string; code: number }
  | { type: 'logs'; lines: Array<[string, string]> };

/** Log lines are batched: a busy server logs a line per request, the IPC channel should not. */
const LOG_FLUSH_MS = 100;
const LOG_BATCH_MAX = 500;

function main(): void {
  if (!process.send) throw new Error('host-process.js must be started with an IPC channel (by the cluster daemon)');
  const send = (m: HostMessage) => {
    if (process.connected) process.send!(m);
  };
  const host = new WorkloadHost();
  const containers = new Map<string, ContainerHandle>();
  let pending: Array<[string, string]> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (pending.length) send({ type: 'logs', lines: pending });
    pending = [];
  };
  const log = (id: string, line: string) => {
    pending.push([id, line]);
    if (pending.length >= LOG_BATCH_MAX) flush();
    else timer ??= setTimeout(flush, LOG_FLUSH_MS);
  };

  process.on('message', (req: HostRequest) => {
    if (req.op === 'start') {
      host.startContainer({ netnsPath: req.netnsPath, podName: req.podName, args: req.args, onLog: (l) => log(req.id, l) }).then(
        (handle) => {
          containers.set(req.id, handle);
          void handle.exited.then((code) => {
            if (!containers.delete(req.id)) return; // stopped on request
            flush();
            send({ type: 'exited', id: req.id, code });
          });
          send({ type: 'started', id: req.id, ports: handle.ports });
        },
        (e: Error) => send({ type: 'startFailed', id: req.id, error: { name: e.name, message: e.message } }),
      );
    } else if (req.op === 'stop') {
      const handle = containers.get(req.id);
      containers.delete(req.id);
      void (handle?.stop() ?? Promise.resolve()).finally(() => {
        flush();
        send({ type: 'stopped', id: req.id });
      });
    }
  });
  // The daemon is gone (crashed or killed): so are this node's pods' servers.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => void host.stopAll().finally(() => process.exit(0)));
  send({ type: 'ready', pid: process.pid });
}

main();
