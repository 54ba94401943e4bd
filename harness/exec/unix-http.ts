// JSON over a unix socket lives in lib/net/unix-http.ts (the agent and the CNI plugin use it); re-exported.
export * from '../../lib/net/unix-http.js';
