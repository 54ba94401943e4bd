// The child-process wrapper lives in lib/exec/run.ts (the agent uses it too); re-exported for harness callers.
export * from '../../lib/exec/run.js';
