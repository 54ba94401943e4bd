// OpenAPI v3, as far as kubectl needs it. kubectl (1.27+) validates manifests on the client unless
// the server advertises server-side field validation: the fieldValidation query parameter on the
// PATCH operation of the kind, in the group-version's OpenAPI v3 document. cnilab advertises it (its
// API validates every object it keeps and answers 422 Invalid with a cause per field), so kubectl
// sends its objects as they are and needs no --validate=false. The schemas name each kind
// (x-kubernetes-group-version-kind), declare apiVersion, kind and metadata, and keep the rest
// (x-kubernetes-preserve-unknown-fields): cnilab does not publish field schemas.
import { createHash } from 'node:crypto';
import { groupVersion, RESOURCES, type ResourceType } from './resources.js';

const schemaName = (r: ResourceType) =>
  r.group === '' ? `io.k8s.api.core.v1.${r.kind}`
  : r.group.endsWith('.k8s.io') ? `io.k8s.api.${r.group.replace(/\.k8s\.io$/, '')}.${r.version}.${r.kind}`
  : r.group === 'apps' ? `io.k8s.api.apps.${r.version}.${r.kind}`
  : `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;

const gvPath = (gv: { group: string; version: string }) => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`);

function groupVersions(): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of RESOURCES) seen.set(groupVersion(r), { group: r.group, version: r.version });
  return [...seen.values()];
}

export function openapiDocument(path: string): Record<string, unknown> | undefined {
  const gv = groupVersions().find((g) => gvPath(g) === path);
  if (!gv) return undefined;
  const schemas: Record<string, unknown> = {
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  };
  for (const r of RESOURCES.filter((x) => x.group === gv.group && x.version === gv.version)) {
    schemas[schemaName(r)] = {
      type: 'object',
      description: `${r.kind} (cnilab serves no field schema: the server validates the content)`,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }], default: {} },
      },
      'x-kubernetes-preserve-unknown-fields': true,
      'x-kubernetes-group-version-kind': [{ group: r.group, kind: r.kind, version: r.version }],
    };
  }
  const paths: Record<string, unknown> = {};
  for (const r of RESOURCES.filter((x) => x.group === gv.group && x.version === gv.version && !x.readOnly && !x.listOnly)) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const item = `/${gvPath(gv)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
    const param = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
    paths[item] = {
      patch: {
        description: `partially update the specified ${r.kind}`,
        operationId: `patch${r.kind}`,
        parameters: [
          param('dryRun', 'When present, indicates that modifications should not be persisted.'),
          param('fieldManager', 'Accepted and ignored (no managed fields are kept).'),
          param('fieldValidation', 'Server-side field validation: cnilab validates the fields it uses and answers 422 Invalid.'),
        ],
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName(r)}` } } } } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (cnilab embedded control plane)', version: 'v1.32.0' }, paths, components: { schemas } };
}

export function openapiRoot(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const gv of groupVersions()) {
    const hash = createHash('sha256').update(JSON.stringify(openapiDocument(gvPath(gv)))).digest('hex').slice(0, 32).toUpperCase();
    paths[gvPath(gv)] = { serverRelativeURL: `/openapi/v3/${gvPath(gv)}?hash=${hash}` };
  }
  return { paths };
}
