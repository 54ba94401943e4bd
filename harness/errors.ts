// The error classes live in lib/errors.ts (the agent needs them too); re-exported for harness callers.
export * from '../lib/errors.js';
