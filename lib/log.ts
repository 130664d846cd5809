/**
 * Structured logging: one JSON line per entry (`{ time, level, message, ...fields }`), which Function Compute
 * forwards to Log Service as is. Every entry goes through `redactValue`, so a secret cannot slip out through an
 * error's message, a signed URL in a field, or a key named like a credential.
 */
import { redact, redactValue } from './redact';

export const LogLevel = {
  Debug: 'debug',
  Info: 'info',
  Warn: 'warn',
  Error: 'error',
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys the logger owns. A field with one of these names is kept under `_<name>` instead of overwriting it. */
const RESERVED_KEYS = ['time', 'level', 'message'] as const;

/** Extra data for one entry. An Error may be passed directly; it is logged under `error` with its cause chain. */
export type LogFields = Record<string, unknown> | Error;

export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  isLevelEnabled(level: LogLevel): boolean;
  /** A logger whose entries all carry `fields` (e.g. runId, domain); per-entry fields win over them. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Entries below this level are dropped. Default `info`. */
  level?: LogLevel;
  /** Receives each serialized line, without the newline. Default: write to stdout. */
  sink?: (line: string) => void;
  /** Fields on every entry. */
  base?: Record<string, unknown>;
  /** Clock for `time`, injectable for tests. */
  nowMs?: () => number;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

const writeToStdout = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!isLogLevel(level)) throw new TypeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  return new JsonLogger(level, options.sink ?? writeToStdout, { ...options.base }, options.nowMs ?? Date.now);
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly sink: (line: string) => void,
    private readonly base: Record<string, unknown>,
    private readonly nowMs: () => number,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }

  isLevelEnabled(level: LogLevel): boolean {
    return SEVERITY[level] >= SEVERITY[this.level];
  }

  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.base, ...fields }, this.nowMs);
  }

  private write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (!this.isLevelEnabled(level)) return;
    const line = this.serialize(level, message, fields);
    try {
      this.sink(line);
    } catch {
      // A broken stdout (EPIPE) must not turn a log call into a failed archive run.
    }
  }

  private serialize(level: LogLevel, message: string, fields: LogFields | undefined): string {
    const own = fields instanceof Error ? { error: fields } : (fields ?? {});
    const data = { ...this.base, ...own };
    const entry: Record<string, unknown> = { time: isoTime(this.nowMs()), level, message: redact(String(message)) };
    for (const [key, value] of Object.entries(data)) {
      const target = (RESERVED_KEYS as readonly string[]).includes(key) ? `_${key}` : key;
      entry[target] = value;
    }
    try {
      // The reserved keys are redacted too, but their values are already safe and stay in place.
      return JSON.stringify(redactValue(entry));
    } catch (err) {
      return JSON.stringify({ time: entry.time, level, message: entry.message, logError: `fields could not be serialized: ${String(err)}` });
    }
  }
}

/** A logger that drops everything, for callers that take an optional logger. */
export const silentLogger: Logger = createLogger({ level: 'error', sink: () => undefined });

function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}
