// IPv4 helpers now live in lib/net/cidr.ts (the agent needs them too); re-exported for existing callers.
export * from '../../lib/net/cidr.js';
