/** One line per event, timestamped, to stdout (the scripts send it to a log file). */
export type Logger = (message: string) => void;

export function consoleLogger(prefix: string): Logger {
  return (message) => process.stdout.write(`${new Date().toISOString()} ${prefix} ${message}\n`);
}

export const silentLogger: Logger = () => undefined;
