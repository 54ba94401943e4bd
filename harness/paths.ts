// Where cnilab's files are: lib/paths.ts (the agent needs it too); re-exported for harness callers.
export * from '../lib/paths.js';
