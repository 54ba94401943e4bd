// Errors as the Kubernetes API returns them: a v1 Status object with the reason and code clients
// switch on (kubectl prints `Error from server (NotFound): pods "x" not found` from these fields,
// client libraries test `reason`), and validation failures as 422 Invalid with one cause per field.
import { CnilabError, InvalidInputError, InvalidInputList } from '../../errors.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'Expired'
  | 'Gone'
  | 'InternalError'
  | 'Timeout';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** The resource as errors name it: "pods", "deployments.apps". */
export const qualified = (plural: string, group: string) => (group ? `${plural}.${group}` : plural);

export const notFound = (plural: string, group: string, name: string) =>
  new ApiError(404, 'NotFound', `${qualified(plural, group)} "${name}" not found`, { name, group: group || undefined, kind: plural });

export const alreadyExists = (plural: string, group: string, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualified(plural, group)} "${name}" already exists`, { name, group: group || undefined, kind: plural });

export const conflict = (plural: string, group: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(plural, group)} "${name}": ${why}`, { name, group: group || undefined, kind: plural });

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export const methodNotAllowed = (what: string) => new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${what})`);

export const expired = (rv: number, oldest: number) =>
  new ApiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);

/**
 * 422 Invalid from cnilab's validation problems: each InvalidInputError's field (after the "where"
 * prefix the caller passed to validateObject) becomes a cause's field, as the API server reports them.
 */
export function invalid(kind: string, group: string, name: string, problems: InvalidInputError[], prefix: string): ApiError {
  const causes = problems.map((p) => {
    const field = p.field.startsWith(prefix) ? p.field.slice(prefix.length) : p.field;
    const message = p.message.slice(p.field.length + 2);
    return { reason: message === 'required' ? 'FieldValueRequired' : message === 'unknown field' ? 'FieldValueNotSupported' : 'FieldValueInvalid', message, field };
  });
  const summary = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  return new ApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${causes.length > 1 ? `[${summary}]` : summary}`, { name, group: group || undefined, kind, causes });
}

/** Any error thrown while serving a request, as the API reports it. */
export function toApiError(err: unknown, ctx: { kind?: string; group?: string; name?: string } = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InvalidInputList) return invalid(ctx.kind ?? 'Object', ctx.group ?? '', ctx.name ?? '', err.problems, '');
  if (err instanceof InvalidInputError) return invalid(ctx.kind ?? 'Object', ctx.group ?? '', ctx.name ?? '', [err], '');
  if (err instanceof CnilabError) {
    if (err.code === 'NOT_FOUND') return new ApiError(404, 'NotFound', err.message);
    if (err.code === 'CONFLICT') return new ApiError(409, 'Conflict', err.message);
  }
  return new ApiError(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
}
