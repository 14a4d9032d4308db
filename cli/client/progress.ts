import { MultiBar, Presets } from 'cli-progress';
import type { SendProgress, SendReporter } from './poster';

/**
 * The terminal reporter of a send run. On a TTY: a progress bar (cli-progress); elsewhere: a
 * plain line every few seconds. Warnings go to stderr, the first 20 of them. `noun` names the
 * records ("events", "articles").
 */
export function cliReporter(enabled: boolean, noun = 'events'): SendReporter & { close(): void } {
  const tty = process.stdout.isTTY === true;
  const warnings = { shown: 0, hidden: 0 };
  const perSecond = noun === 'events' ? 'ev/s' : `${noun}/s`;
  let bar: ReturnType<MultiBar['create']> | undefined;
  let multi: MultiBar | undefined;
  let lastLine = 0;
  const warnLine = (message: string) => {
    if (warnings.shown >= 20) {
      warnings.hidden += 1;
      return;
    }
    warnings.shown += 1;
    if (multi !== undefined) multi.log(`${message}\n`);
    else process.stderr.write(`${message}\n`);
  };
  const rate = (p: SendProgress) => Math.round((p.sent * 1000) / Math.max(1, p.elapsedMs));
  return {
    start({ url, total }) {
      process.stdout.write(`sending ${total ?? '?'} ${noun} to ${url}\n`);
      if (!enabled || !tty) return;
      multi = new MultiBar(
        {
          format: ` {bar} {percentage}% | {value}/{total} ${noun} | {eps} ${perSecond} | accepted {accepted} rejected {rejected} failed {failed}`,
          hideCursor: true,
          stream: process.stdout,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      bar = multi.create(total ?? 0, 0, { eps: 0, accepted: 0, rejected: 0, failed: 0 });
    },
    progress(p) {
      if (!enabled) return;
      if (bar !== undefined) {
        bar.update(p.done, { eps: rate(p), accepted: p.accepted, rejected: p.rejected, failed: p.failed });
        return;
      }
      const now = Date.now();
      if (now - lastLine < 2000 && p.done < (p.total ?? Number.POSITIVE_INFINITY)) return;
      lastLine = now;
      const pct = p.total ? ` (${Math.floor((p.done * 100) / p.total)}%)` : '';
      process.stdout.write(
        `progress: ${p.done}/${p.total ?? '?'} ${noun}${pct}, ${rate(p)} ${perSecond}, accepted ${p.accepted}, rejected ${p.rejected}, failed ${p.failed}\n`,
      );
    },
    warn: warnLine,
    close() {
      multi?.stop();
      if (warnings.hidden > 0) process.stderr.write(`(${warnings.hidden} more warnings not shown)\n`);
    },
  };
}
