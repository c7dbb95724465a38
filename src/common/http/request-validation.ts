import { ValidationError, ValidationPipe } from '@nestjs/common';
import { InvalidField } from '../problem/problem';

/**
 * What the global ValidationPipe throws. It carries the field errors, and HttpErrorFilter decides their wire
 * format from the route: problem+json `validation_error` on `/api`, `invalid_request` or
 * `invalid_client_metadata` on the protocol endpoints.
 */
export class RequestValidationError extends Error {
  constructor(readonly fields: InvalidField[]) {
    super(fields.map((f) => f.title).join('; '));
    this.name = 'RequestValidationError';
  }
}

/**
 * RFC 6749 §3.1: unknown parameters are ignored, so unknown fields are stripped (never rejected); a repeated
 * parameter arrives as an array and fails its `@IsString()`.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: false,
    transform: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new RequestValidationError(flatten(errors)),
  });
}

function flatten(errors: ValidationError[], parents: string[] = []): InvalidField[] {
  return errors.flatMap((error) => {
    const path = [...parents, error.property];
    const own = Object.values(error.constraints ?? {}).slice(0, 1).map<InvalidField>((title) => ({
      name: path.join('.'),
      error: 'invalid_value',
      title,
      pointer: '/' + path.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/'),
    }));
    return [...own, ...flatten(error.children ?? [], path)];
  });
}
