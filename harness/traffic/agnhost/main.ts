// CLI entry of cnilab's agnhost (bin/pod/agnhost). Subcommand modules are imported lazily so that
// `agnhost connect`, run once per probe, loads nothing but node:net/node:dgram.
import { hostname as osHostname } from 'node:os';

/** Every subcommand this implementation answers to; anything else is rejected, never approximated. */
export const SUPPORTED_SUBCOMMANDS = ['connect', 'serve-hostname', 'netexec', 'pause'] as const;
/** cnilab-only helpers, not part of the real image. */
export const HIDDEN_SUBCOMMANDS = ['cnilab-http-get', 'cnilab-whoami', 'cnilab-whoami-many', 'cnilab-svc-ask'] as const;

function usage(): string {
  return `cnilab agnhost: a subset of registry.k8s.io/e2e-test-images/agnhost\n\nAvailable Commands:\n${SUPPORTED_SUBCOMMANDS.map((c) => `  ${c}`).join('\n')}\n`;
}

async function serve(subcommand: string, args: string[]): Promise<number> {
  const [{ SERVER_SUBCOMMANDS }, { plainBinder, goLogLine }, { UsageError }] = await Promise.all([
    import('./servers.js'),
    import('./context.js'),
    import('./flags.js'),
  ]);
  const ctx = {
    // In a real pod os.Hostname() is the pod name; the runtime passes it as HOSTNAME since a
    // netns-only pod shares the host's UTS namespace.
    hostname: process.env.HOSTNAME || osHostname(),
    binder: plainBinder,
    log: (line: string) => process.stderr.write(`${goLogLine(line)}\n`),
  };
  let running;
  try {
    running = await SERVER_SUBCOMMANDS[subcommand]!(args, ctx);
  } catch (e) {
    // log.Fatal in the real image: message on stderr, exit 1.
    const msg = e instanceof UsageError ? e.message : `${(e as Error).message}`;
    process.stderr.write(`${goLogLine(msg)}\n`);
    return 1;
  }
  // The real image sleeps 60 s after SIGTERM ("Awaiting pod deletion"); a netns pod is deleted
  // by its runtime right away, so we close the sockets and exit 0 at once.
  const signalled = new Promise<number>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        ctx.log(`Shutting down after receiving signal: ${sig === 'SIGTERM' ? 'terminated' : 'interrupt'}.`);
        resolve(0);
      });
    }
  });
  const code = await Promise.race([signalled, running.exited]);
  await running.stop();
  return code;
}

export async function main(argv: string[]): Promise<number> {
  const [subcommand, ...args] = argv;
  switch (subcommand) {
    case 'connect':
      return (await import('./connect.js')).connectMain(args);
    case 'cnilab-whoami':
      return (await import('./whoami.js')).whoamiMain(args);
    case 'cnilab-whoami-many':
      return (await import('./whoami-many.js')).whoamiManyMain(args);
    case 'cnilab-svc-ask':
      return (await import('./svc-ask.js')).svcAskMain(args);
    case 'cnilab-http-get':
      return (await import('./http-get.js')).httpGetMain(args);
    case 'serve-hostname':
    case 'netexec':
    case 'pause':
      return serve(subcommand, args);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage());
      return subcommand === undefined ? 1 : 0;
    default:
      process.stderr.write(`Error: unknown command "${subcommand}" for "agnhost"\n${usage()}`);
      return 1;
  }
}
