// The server-type agnhost subcommands cnilab implements, by name. Both the CLI (main.ts) and the
// one-process WorkloadHost (host.ts) start servers only through this table, so they cannot drift.
import type { RunningWorkload, WorkloadContext } from './context.js';
import { parseServeHostnameArgs, startServeHostname } from './serve-hostname.js';
import { parseNetexecArgs, startNetexec } from './netexec.js';

export type ServerStarter = (args: string[], ctx: WorkloadContext) => Promise<RunningWorkload>;

/** `pause` holds no sockets and never ends by itself: it just keeps a "container" alive. */
const startPause: ServerStarter = async () => ({
  ports: [],
  stop: async () => undefined,
  exited: new Promise<number>(() => undefined),
});

export const SERVER_SUBCOMMANDS: Readonly<Record<string, ServerStarter>> = {
  'serve-hostname': (args, ctx) => startServeHostname(parseServeHostnameArgs(args), ctx),
  netexec: (args, ctx) => startNetexec(parseNetexecArgs(args), ctx),
  pause: startPause,
};

/** Parse a server subcommand's arguments without starting it (throws UsageError on bad flags). */
export function validateServerArgs(subcommand: string, args: string[]): void {
  if (subcommand === 'serve-hostname') parseServeHostnameArgs(args);
  else if (subcommand === 'netexec') parseNetexecArgs(args);
}
