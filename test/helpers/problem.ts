import request from 'supertest';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
export type InvalidFieldError = 'reference_not_found' | 'not_unique' | 'invalid_value' | 'other_error';

/** An RFC 7807 answer of an `/api` route: status, media type, and exactly the SPEC §2 body. */
export function expectProblem(res: request.Response, status: number, type: string, invalidFields?: unknown[]): Record<string, unknown> {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toEqual({
    type,
    title: expect.stringMatching(/\S/),
    status,
    request_id: res.headers['x-request-id'],
    ...(invalidFields ? { invalid_fields: invalidFields } : {}),
  });
  return body;
}

/** One `invalid_fields` entry; `name` is dotted (`redirect_uris.0`), the pointer is its JSON pointer. */
export const field = (name: string, error: InvalidFieldError = 'invalid_value') => ({
  name,
  error,
  title: expect.stringMatching(/\S/),
  pointer: '/' + name.split('.').join('/'),
});
