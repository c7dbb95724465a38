import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Metrics } from '../common/metrics/metrics';
import { Public } from '../identity/auth/auth.decorators';
import { answerScrape } from './metrics-exposition';

/**
 * `/metrics` on the main port, when METRICS_PORT does not give it a listener of its own. Public like `/healthz`, so
 * a scraper needs no credential: keep it from the internet with METRICS_PORT or at the load balancer. Not part of
 * the API document.
 */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  scrape(@Req() req: Request, @Res() res: Response): Promise<void> {
    return answerScrape(this.metrics, req, res);
  }
}
