import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { Type } from 'class-transformer';
import { invalidClient } from '../../src/common/oauth/oauth-error';
import { unauthorised } from '../../src/common/problem/problem';
import { Public } from '../../src/identity/auth/auth.decorators';
import { IsEmail, IsInt, IsOptional, IsString, Max, Min, ValidateNested } from 'class-validator';

class ProbeAddressDto {
  @IsString()
  city!: string;
}

class ProbeDto {
  @IsString()
  name!: string;

  @IsInt()
  @Min(1)
  @Max(10)
  count!: number;

  @IsOptional()
  @IsEmail()
  email?: string;

  @IsOptional()
  @ValidateNested()
  @Type(() => ProbeAddressDto)
  address?: ProbeAddressDto;
}

/** Routes that exist only in tests, to drive the cross-cutting machinery (validation, errors, logging). */
@Public()
@Controller()
class ProbeController {
  @Post('api/v1/probe')
  @HttpCode(200)
  api(@Body() body: ProbeDto): ProbeDto {
    return body;
  }

  @Post('oauth2/probe')
  @HttpCode(200)
  protocol(@Body() body: ProbeDto): ProbeDto {
    return body;
  }

  @Get('api/v1/probe/boom')
  boom(): never {
    throw new Error('internal detail: connection string postgres://user:hunter2@db');
  }

  /** A 401 raised without a challenge, as an /api problem and as an OAuth error. */
  @Get('api/v1/probe/unauthorised')
  unauthorised(): never {
    throw unauthorised('Probe: refused without a challenge');
  }

  @Get('api/v1/probe/invalid-client')
  invalidClient(): never {
    throw invalidClient('probe: refused without a challenge');
  }

  @Get('oauth2/probe/boom')
  protocolBoom(): never {
    throw new Error('internal detail: connection string postgres://user:hunter2@db');
  }
}

@Module({ controllers: [ProbeController] })
export class ProbeModule {}
