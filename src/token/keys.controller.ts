import { Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../identity/auth/auth.decorators';
import { ProtocolEndpoint } from '../identity/auth/protocol-endpoint.decorator';
import { JWKS_CACHE_CONTROL, SigningKeysService } from './signing-keys.service';

class JwkDto {
  @ApiProperty({ example: 'EC' }) kty!: string;
  @ApiProperty({ example: 'P-256' }) crv!: string;
  @ApiProperty() x!: string;
  @ApiProperty() y!: string;
  @ApiProperty() kid!: string;
  @ApiProperty({ example: 'ES256' }) alg!: string;
  @ApiProperty({ example: 'sig' }) use!: string;
}

class JwksDto {
  @ApiProperty({ type: [JwkDto] }) keys!: JwkDto[];
}

class RotatedKeyDto {
  @ApiProperty({ description: 'The new active key' }) kid!: string;
  @ApiProperty({ type: [String], description: 'Retired keys, published until their tokens expire' }) retired!: string[];
}

@ApiTags('oauth2')
@ProtocolEndpoint()
@Controller('oauth2/jwks')
export class JwksController {
  constructor(private readonly keys: SigningKeysService) {}

  /**
   * RFC 7517 key set; short-lived in caches so a rotation is picked up quickly. `/oauth2/jwks` itself is answered
   * from a prebuilt buffer ahead of routing (servePublishedDocuments); this route answers the other spellings.
   */
  @Get()
  @ApiOperation({ summary: 'Get the public signing keys (JWKS)' })
  @Header('Cache-Control', JWKS_CACHE_CONTROL)
  @ApiOkResponse({ type: JwksDto })
  jwks(): JwksDto {
    return this.keys.jwks() as JwksDto;
  }
}

@ApiTags('keys')
@AdminOnly()
@Controller('api/v1/oauth2/keys')
export class KeysAdminController {
  constructor(private readonly keys: SigningKeysService) {}

  @Post('rotate')
  @ApiOperation({ summary: 'Rotate the signing key', description: 'A new key signs from now on. The retired keys stay in the JWKS until the tokens they signed expire.' })
  @HttpCode(200)
  @ApiOkResponse({ type: RotatedKeyDto })
  rotate(): Promise<RotatedKeyDto> {
    return this.keys.rotate();
  }
}
