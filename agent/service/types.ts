// The contract between the agent's service handling and the load-balancer maps of the datapath
// (bpf/lib/lb.h). agent/datapath/lb-maps.ts implements it with libbpf, agent/testing/fake-lb.ts in memory.

export type LbProto = 'TCP' | 'UDP';
export type LbScope = 'ext' | 'int';

/** A frontend slot: slot 0 is the master entry, 1..count the backend slots. */
export interface LbKey {
  /** ClusterIP, or "0.0.0.0" for a NodePort (any address of a node). */
  addr: string;
  port: number;
  proto: LbProto;
  scope: LbScope;
  slot: number;
}

export interface LbSlot {
  /** Slot > 0: the backend id. */
  backendId: number;
  /** Slot 0: how many backend slots follow. */
  count: number;
  svcId: number;
  /** Slot 0: seconds of ClientIP affinity, 0 none. */
  affinityTimeout: number;
  /** Slot 0: LB_FLAG bits (agent/datapath/constants.ts). */
  flags: number;
}

export interface LbBackendEntry {
  ip: string;
  port: number;
  proto: LbProto;
  /** Runs on this node. */
  local: boolean;
}

/** A network namespace whose sockets this node load-balances (bpf_sock.c). */
export interface LbNetns {
  identity: number;
  ip: string;
  host: boolean;
}

export interface LbMaps {
  upsertSlot(key: LbKey, value: LbSlot): void;
  deleteSlot(key: LbKey): void;
  listSlots(): Array<{ key: LbKey; value: LbSlot }>;
  upsertBackend(id: number, be: LbBackendEntry): void;
  deleteBackend(id: number): void;
  listBackends(): Array<{ id: number; backend: LbBackendEntry }>;
  /** The Maglev lookup table of a service id (LB_MAGLEV_M backend ids). */
  setMaglev(svcId: number, table: Uint32Array): void;
  deleteMaglev(svcId: number): void;
  listMaglev(): number[];
  setNetns(cookie: bigint, ns: LbNetns): void;
  deleteNetns(cookie: bigint): void;
  listNetns(): Array<{ cookie: bigint; ns: LbNetns }>;
}

/** What the service manager needs of the control plane: a watch of some kinds (ADDED… then SYNCED). */
export type ObjectWatch = (
  kinds: string[],
  handler: (ev: { type: string; object?: { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown } }) => void,
  onEnd: (err?: Error) => void,
) => () => void;
