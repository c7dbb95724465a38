/** RFC 7807 problem types of the `/api` routes (SPEC §2). */
export type ProblemType =
  | 'not_found'
  | 'unauthorised'
  | 'forbidden'
  | 'internal_server_error'
  | 'validation_error'
  | 'invalid_parameter'
  | 'missing_parameter'
  | 'conflict'
  | 'unspecified';

export type FieldErrorCode = 'reference_not_found' | 'not_unique' | 'invalid_value' | 'other_error';

export interface InvalidField {
  readonly name: string;
  readonly error: FieldErrorCode;
  readonly title: string;
  /** RFC 6901 JSON pointer into the request body. */
  readonly pointer: string;
}

export interface ProblemBody {
  type: ProblemType;
  title: string;
  status: number;
  invalid_fields?: InvalidField[];
  request_id: string;
}

/** Thrown by services of the `/api` routes; ProblemFilter writes it as `application/problem+json`. */
export class ApiProblem extends Error {
  constructor(
    readonly type: ProblemType,
    readonly title: string,
    readonly status: number,
    readonly invalidFields?: InvalidField[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(title);
    this.name = 'ApiProblem';
  }
}

export const notFound = (title = 'The resource was not found') => new ApiProblem('not_found', title, 404);
export const conflict = (title: string, fields?: InvalidField[]) => new ApiProblem('conflict', title, 409, fields);
export const forbidden = (title = 'You are not allowed to do this') => new ApiProblem('forbidden', title, 403);
export const unauthorised = (title = 'Authentication is required', headers: Record<string, string> = {}) =>
  new ApiProblem('unauthorised', title, 401, undefined, headers);
export const validationError = (fields: InvalidField[], title = 'The request is not valid') =>
  new ApiProblem('validation_error', title, 400, fields);

/** Which problem type an HTTP status means when nothing more specific was thrown. */
export function problemTypeForStatus(status: number): ProblemType {
  switch (status) {
    case 400: return 'invalid_parameter';
    case 401: return 'unauthorised';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'conflict';
    default: return status >= 500 ? 'internal_server_error' : 'unspecified';
  }
}
