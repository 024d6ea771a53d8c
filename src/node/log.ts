/**
 * A node's log: one line per event, to stdout (the scripts send it to a log
 * file). Text by default, for a person reading the file; with
 * `--log-format json` one JSON object per line (`time`, `level`, `node`,
 * `event`), for a log shipper. Nothing the node logs carries the cluster
 * secret: messages name nodes, counts and errors, never credentials.
 */
import type { Logger, LogLevel } from '../common/logger';

export type { Logger, LogLevel };

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** One log line, without its newline. */
export function formatLogLine(format: LogFormat, node: number, message: string, level: LogLevel, time: Date): string {
  if (format === 'json') return JSON.stringify({ time: time.toISOString(), level, node, event: message });
  const tag = level === 'info' ? '' : ` ${level.toUpperCase()}`;
  return `${time.toISOString()} [node ${node}]${tag} ${message}`;
}

export function consoleLogger(node: number, format: LogFormat = 'text'): Logger {
  return (message, level = 'info') => process.stdout.write(`${formatLogLine(format, node, message, level, new Date())}\n`);
}

export const silentLogger: Logger = () => undefined;
