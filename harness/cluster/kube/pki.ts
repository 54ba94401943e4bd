// The credentials of the embedded cluster's HTTPS API, made at `up` with Debian's openssl: a
// self-signed CA (EC P-256, 1 year), a serving certificate for 127.0.0.1/localhost signed by it,
// and a random bearer token. Nothing is reused between clusters; `down` removes them with the
// cluster's run directory. Files are root-only (0600).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../exec/run.js';

export interface KubeCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
  token: string;
}

export async function makeCredentials(dir: string, cluster: string): Promise<KubeCredentials> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(['openssl', 'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '365', '-subj', `/CN=cnilab-${cluster}-ca`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run(['openssl', 'req', ...ec, '-keyout', f('apiserver.key'), '-out', f('apiserver.csr'), '-subj', `/CN=cnilab-${cluster}-apiserver`]);
  writeFileSync(f('apiserver.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  await run(['openssl', 'x509', '-req', '-in', f('apiserver.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('apiserver.crt'), '-days', '365', '-extfile', f('apiserver.ext')]);
  const token = randomBytes(32).toString('hex');
  writeFileSync(f('token'), `${token}\n`, { mode: 0o600 });
  for (const n of ['ca.key', 'apiserver.key']) chmodSync(f(n), 0o600);
  return { caPem: readFileSync(f('ca.crt'), 'utf8'), certPem: readFileSync(f('apiserver.crt'), 'utf8'), keyPem: readFileSync(f('apiserver.key'), 'utf8'), token };
}

/** A kubeconfig for the cluster: self-contained (CA inline), one context named cnilab-<cluster>. */
export function kubeconfigYaml(cluster: string, server: string, caPem: string, token: string): string {
  const name = `cnilab-${cluster}`;
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    `- name: ${name}-admin`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    '    namespace: default',
    `current-context: ${name}`,
    '',
  ].join('\n');
}
