// The runtime's side of CNI lives in lib/cni/runtime.ts (the agent's tests drive the plugin with it
// too, and may not import harness/); re-exported for harness callers.
export * from '../../../lib/cni/runtime.js';
