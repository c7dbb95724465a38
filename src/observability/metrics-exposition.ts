import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Metrics } from '../common/metrics/metrics';

const logger = new Logger('Metrics');

/**
 * One scrape, answered the same on either port: the Prometheus text format with its exact content type
 * (`text/plain; version=0.0.4; charset=utf-8`, which Express's `send` would reorder), never cached.
 */
export async function answerScrape(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body: string;
  try {
    body = await metrics.scrape();
  } catch (err) {
    logger.error({ err }, 'metrics scrape failed');
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
