// Cluster-pool IPAM for one node: addresses come from the node's pod CIDR (assigned by the cluster
// spec, as Cilium's operator assigns a /24 per node). .0 is the network, .1 the router (cilium_host),
// the last address is the broadcast; pods get the rest. Allocations are written to a file before an
// address is handed out, so a restarted agent never hands the same address out twice.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cidrContains, formatIpv4, parseCidr, parseIpv4, type Cidr } from '../../harness/cluster/cidr.js';
import { ConflictError, InvalidInputError } from '../../harness/errors.js';
import { CorruptStateError, parseStateJson } from '../state-files.js';

interface IpamFile {
  version: 1;
  podCidr: string;
  /** ip → owner (a container ID). */
  allocations: Record<string, string>;
  /** Where the next search starts: round robin, so a just-released address is not reused at once
   *  (stale conntrack entries or ipcache entries on other nodes still name it for a while). */
  next: number;
}

export class ClusterPoolIpam {
  private readonly cidr: Cidr;
  private readonly router: number;
  private allocations = new Map<string, string>();
  private next: number;

  constructor(
    readonly podCidr: string,
    readonly routerIp: string,
    /** Persist to this file (JSON). Without it the pool lives in memory only (unit tests). */
    private readonly file?: string,
  ) {
    const c = parseCidr(podCidr);
    if (!c || c.prefix > 30) throw new InvalidInputError('podCidr', `expected an IPv4 CIDR of /30 or larger, got "${podCidr}"`);
    const r = parseIpv4(routerIp);
    if (r === undefined || !cidrContains(c, r)) throw new InvalidInputError('routerIp', `${routerIp} is not inside ${podCidr}`);
    this.cidr = c;
    this.router = r;
    this.next = this.first();
    if (file && existsSync(file)) this.load(file);
  }

  private first(): number {
    return this.cidr.base + 1;
  }
  private last(): number {
    return this.cidr.base + 2 ** (32 - this.cidr.prefix) - 2;
  }
  /** Addresses pods may get. */
  get capacity(): number {
    return this.last() - this.first() + 1 - 1; /* minus the router */
  }

  /** Throws CorruptStateError when the file is not an allocation file this pool can trust. */
  private load(file: string): void {
    const data = parseStateJson(file, readFileSync(file, 'utf8')) as IpamFile;
    if (!data || typeof data !== 'object' || typeof data.podCidr !== 'string') throw new CorruptStateError(file, 'expected an object with podCidr');
    const allocs = data.allocations ?? {};
    if (typeof allocs !== 'object' || Array.isArray(allocs) || !Object.entries(allocs).every(([ip, o]) => parseIpv4(ip) !== undefined && typeof o === 'string')) {
      throw new CorruptStateError(file, 'allocations must map IPv4 addresses to owner strings');
    }
    if (data.podCidr !== this.podCidr) {
      // The node got a different CIDR (a re-created cluster with the same name): old allocations are void.
      return;
    }
    for (const [ip, owner] of Object.entries(data.allocations ?? {})) this.allocations.set(ip, owner);
    if (Number.isInteger(data.next) && data.next >= this.first() && data.next <= this.last()) this.next = data.next;
  }

  private persist(): void {
    if (!this.file) return;
    const data: IpamFile = { version: 1, podCidr: this.podCidr, allocations: Object.fromEntries(this.allocations), next: this.next };
    mkdirSync(dirname(this.file), { recursive: true });
    // Write-then-rename: a crash mid-write never leaves a truncated file behind.
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.file);
  }

  /** Next free address for `owner`. The same owner asking again gets its existing address. */
  allocate(owner: string): string {
    const mine = this.ownedBy(owner);
    if (mine) return mine;
    const size = this.last() - this.first() + 1;
    for (let i = 0; i < size; i++) {
      const n = this.first() + ((this.next - this.first() + i) % size);
      if (n === this.router) continue;
      const ip = formatIpv4(n);
      if (this.allocations.has(ip)) continue;
      this.allocations.set(ip, owner);
      this.next = n + 1 > this.last() ? this.first() : n + 1;
      this.persist();
      return ip;
    }
    throw new ConflictError(`IPAM: no free address left in ${this.podCidr} (${this.allocations.size} allocated)`);
  }

  /** Mark a known address as taken (restore from the datapath's maps or endpoint state). */
  claim(ip: string, owner: string): void {
    const n = parseIpv4(ip);
    if (n === undefined || !cidrContains(this.cidr, n) || n === this.router || n < this.first() || n > this.last()) {
      throw new InvalidInputError('ip', `${ip} is not an allocatable address of ${this.podCidr}`);
    }
    const cur = this.allocations.get(ip);
    if (cur === owner) return;
    if (cur !== undefined) throw new ConflictError(`IPAM: ${ip} is already allocated to ${cur}, not ${owner}`);
    this.allocations.set(ip, owner);
    this.persist();
  }

  release(ip: string): boolean {
    const had = this.allocations.delete(ip);
    if (had) this.persist();
    return had;
  }

  releaseOwner(owner: string): string | undefined {
    const ip = this.ownedBy(owner);
    if (ip) this.release(ip);
    return ip;
  }

  ownedBy(owner: string): string | undefined {
    for (const [ip, o] of this.allocations) if (o === owner) return ip;
    return undefined;
  }

  list(): Array<{ ip: string; owner: string }> {
    return [...this.allocations].map(([ip, owner]) => ({ ip, owner })).sort((a, b) => parseIpv4(a.ip)! - parseIpv4(b.ip)!);
  }
}
