// A CRI client: the Kubernetes Container Runtime Interface over gRPC on a unix socket, as kubelet
// speaks it to containerd. @grpc/grpc-js carries the calls; @grpc/proto-loader reads the CRI subset in
// proto/api.proto at run time (no generated code to keep in step).
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { REPO_ROOT } from '../paths.js';
import { CnilabError } from '../errors.js';

export const CRI_PROTO = resolve(REPO_ROOT, 'harness/cri/proto/api.proto');

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: { network?: 'POD' | 'NODE'; pid?: 'POD' | 'CONTAINER' | 'NODE'; ipc?: 'POD' | 'NODE' } } };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  created_at: string;
  network?: { ip: string; additional_ips: Array<{ ip: string }> };
  labels: Record<string, string>;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  labels: Record<string, string>;
}

type Unary = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
type ServiceClient = grpc.Client & Record<string, Unary>;

let loaded: grpc.GrpcObject | undefined;
function proto(): grpc.GrpcObject {
  // enums as their names, int64 as strings, defaults filled in: what the TypeScript types above say.
  loaded ??= grpc.loadPackageDefinition(protoLoader.loadSync(CRI_PROTO, { keepCase: true, enums: String, longs: String, defaults: true, oneofs: true }));
  return loaded;
}

/** A failed CRI call: the method, the gRPC status and the runtime's message. */
export class CriError extends CnilabError {
  constructor(
    readonly method: string,
    readonly grpcCode: number,
    message: string,
  ) {
    super('COMMAND_FAILED', `CRI ${method} failed (${grpc.status[grpcCode] ?? grpcCode}): ${message}`);
  }
}

export class CriClient {
  private runtime: ServiceClient;
  private images: ServiceClient;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 60_000,
  ) {
    const v1 = (proto().runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
    const target = `unix://${socketPath}`;
    const creds = grpc.credentials.createInsecure();
    const RuntimeService = v1.RuntimeService as grpc.ServiceClientConstructor;
    const ImageService = v1.ImageService as grpc.ServiceClientConstructor;
    this.runtime = new RuntimeService(target, creds) as unknown as ServiceClient;
    this.images = new ImageService(target, creds, { channelOverride: this.runtime.getChannel() }) as unknown as ServiceClient;
  }

  private call<T>(client: ServiceClient, method: string, req: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      client[method]!.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new CriError(method, err.code, err.details || err.message));
        else resolve(res as T);
      });
    });
  }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call(this.runtime, 'Version', { version: 'v1' }, 5000);
  }
  status(): Promise<{ status: { conditions: Array<{ type: string; status: boolean; reason: string; message: string }> } }> {
    return this.call(this.runtime, 'Status', { verbose: false }, 5000);
  }
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    const res = await this.call<{ pod_sandbox_id: string }>(this.runtime, 'RunPodSandbox', { config, runtime_handler: runtimeHandler });
    return res.pod_sandbox_id;
  }
  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
  }
  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  }
  /** The sandbox's status, and with `verbose` containerd's info (JSON) naming its netns path. */
  async podSandboxStatus(id: string, verbose = false): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    return this.call(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }
  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<PodSandbox[]> {
    const res = await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', { filter: { label_selector: labelSelector } });
    return res.items;
  }
  async listImages(): Promise<Array<{ id: string; repo_tags: string[] }>> {
    const res = await this.call<{ images: Array<{ id: string; repo_tags: string[] }> }>(this.images, 'ListImages', {});
    return res.images;
  }

  close(): void {
    this.images.close();
    this.runtime.close();
  }
}

/** The network namespace path containerd created for a sandbox (from its verbose status). */
export function sandboxNetnsPath(info: Record<string, string>): string | undefined {
  try {
    const doc = JSON.parse(info.info ?? '{}') as { runtimeSpec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } } };
    return doc.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  } catch {
    return undefined;
  }
}
