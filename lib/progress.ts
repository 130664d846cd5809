/**
 * Progress of long CLI work (verify over many keys, a backfill over many units): a redrawn bar (cli-progress)
 * when a person is watching a terminal, a few plain lines when the output goes to a file or a CI log, nothing
 * when the output is JSON for a machine. Progress goes to stderr, so stdout stays the result alone.
 */
import { SingleBar } from 'cli-progress';

/** The part of a stream this module writes to; process.stderr and a test's collector both fit. */
export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'bar' | 'lines' | 'off';

export interface Progress {
  /** A new phase: `label` names what is counted ("objects", "units"). */
  start(label: string, total: number): void;
  /** Items done so far in the current phase. */
  update(done: number): void;
  /** Ends the current phase (draws it complete if it got there). Safe to call twice. */
  stop(): void;
}

/** A bar needs a terminal on both ends: stdout (the person is watching) and the stream it redraws on. */
export function progressMode(opts: { json: boolean; stdoutIsTTY: boolean; stream: TextStream }): ProgressMode {
  if (opts.json) return 'off';
  return opts.stdoutIsTTY && opts.stream.isTTY === true ? 'bar' : 'lines';
}

export function createProgress(mode: ProgressMode, stream: TextStream, opts: { lineStepPercent?: number } = {}): Progress {
  switch (mode) {
    case 'off':
      return { start: () => undefined, update: () => undefined, stop: () => undefined };
    case 'lines':
      return lineProgress(stream, opts.lineStepPercent ?? 10);
    case 'bar':
      return barProgress(stream);
  }
}

/** One line at the start, one each time another `stepPercent` is done, one at the end: a log stays short. */
function lineProgress(stream: TextStream, stepPercent: number): Progress {
  let label = '';
  let total = 0;
  let done = 0;
  let lastStep = -1;
  let active = false;
  const print = () => stream.write(`${label}: ${done}/${total}${total > 0 ? ` (${Math.floor((done / total) * 100)}%)` : ''}\n`);
  return {
    start(newLabel, newTotal) {
      label = newLabel;
      total = newTotal;
      done = 0;
      lastStep = 0;
      active = true;
      print();
    },
    update(newDone) {
      if (!active) return;
      done = newDone;
      const step = total === 0 ? 0 : Math.floor((done / total) * (100 / stepPercent));
      if (step > lastStep && done < total) {
        lastStep = step;
        print();
      }
    },
    stop() {
      if (!active) return;
      active = false;
      if (total > 0) print();
    },
  };
}

function barProgress(stream: TextStream): Progress {
  let bar: SingleBar | null = null;
  return {
    start(label, total) {
      bar?.stop();
      bar = new SingleBar({
        // cli-progress only calls write, isTTY and columns, and readline's cursor helpers, which only call write.
        stream: stream as unknown as NodeJS.WritableStream,
        format: `${label} [{bar}] {percentage}% {value}/{total} ETA {eta_formatted}`,
        barCompleteChar: '#',
        barIncompleteChar: '.',
        hideCursor: true,
        etaBuffer: 50,
      });
      bar.start(total, 0);
    },
    update(done) {
      bar?.update(done);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
