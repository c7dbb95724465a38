import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../identity/auth/auth.decorators';
import { HealthCheck, HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Shutdown } from './shutdown';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly shutdown: Shutdown,
  ) {}

  /** Liveness: the process answers. Deliberately independent of the database. */
  @Get('healthz')
  @ApiOperation({ summary: 'Check liveness' })
  @HealthCheck()
  @ApiOkResponse({ description: 'The process is alive' })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Readiness: the database answers too. */
  @Get('readyz')
  @ApiOperation({ summary: 'Check readiness', description: '503 while the database does not answer, and from the moment the instance is asked to stop.' })
  @HealthCheck()
  @ApiOkResponse({ description: 'Ready to serve: the database answers' })
  @ApiServiceUnavailableResponse({ description: 'The database does not answer' })
  ready(): Promise<HealthCheckResult> {
    // Stopping (SIGTERM): not ready any more, so the load balancer sends nothing new while requests still finish.
    if (this.shutdown.draining) throw new ServiceUnavailableException('The instance is shutting down');
    return this.health.check([() => this.db.pingCheck('database', { timeout: 2000 })]);
  }
}
