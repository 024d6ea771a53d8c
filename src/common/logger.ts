/**
 * What a part that reports events is given to report them: one call per
 * line. The node's implementations (text or JSON to stdout, or silence)
 * are in node/log.ts; parts outside node/ take this type alone, so that no
 * folder imports the node it is wired into.
 */
export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (message: string, level?: LogLevel) => void;
