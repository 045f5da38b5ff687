/** The `systemd` service manager: `systemctl` for state and control, `journalctl` for logs. */
import { ServiceCommandError } from '../common/errors.js';
import type { ServiceConfig } from '../config/config.js';
import { parseLeadingTime } from './log-files.js';
import {
  assertConfigured,
  SERVICE_STATES,
  type CallOptions,
  type LogLine,
  type ServiceManager,
  type ServiceState,
  type ServiceStatus,
} from './manager.js';
import { runArgv } from './run-argv.js';

export interface SystemdManagerOptions {
  services: readonly ServiceConfig[];
  timeoutSeconds: number;
  /** Program paths; tests point these at stand-ins because systemd cannot run here. */
  systemctl?: string;
  journalctl?: string;
}

export class SystemdServiceManager implements ServiceManager {
  readonly type = 'systemd' as const;
  readonly services: readonly string[];
  readonly #units: Map<string, string>;
  readonly #timeoutMs: number;
  readonly #systemctl: string;
  readonly #journalctl: string;

  constructor(opts: SystemdManagerOptions) {
    this.services = opts.services.map((s) => s.name);
    this.#units = new Map(opts.services.map((s) => [s.name, s.unit]));
    this.#timeoutMs = opts.timeoutSeconds * 1000;
    this.#systemctl = opts.systemctl ?? 'systemctl';
    this.#journalctl = opts.journalctl ?? 'journalctl';
  }

  #unit(service: string): string {
    assertConfigured(service, this.services);
    return this.#units.get(service) ?? service;
  }

  async status(service: string, opts: CallOptions = {}): Promise<ServiceStatus> {
    const unit = this.#unit(service);
    // `is-active` prints one word (active, inactive, failed, activating, ...) and exits 0 only when active.
    const { exitCode, output } = await runArgv([this.#systemctl, 'is-active', unit], {
      service,
      action: 'status',
      timeoutMs: this.#timeoutMs,
      signal: opts.signal,
    });
    const word = output.trim().split(/\s+/)[0] ?? '';
    const state: ServiceState =
      exitCode === 0 ? 'active' : (SERVICE_STATES as readonly string[]).includes(word) ? (word as ServiceState) : 'unknown';
    return { service, state, detail: word || `exit code ${exitCode}` };
  }

  async #act(service: string, action: 'start' | 'stop' | 'restart', opts: CallOptions): Promise<void> {
    const argv = [this.#systemctl, action, this.#unit(service)];
    const { exitCode, output } = await runArgv(argv, { service, action, timeoutMs: this.#timeoutMs, signal: opts.signal });
    if (exitCode !== 0) throw new ServiceCommandError({ service, action, argv, exitCode, timedOut: false, output });
  }

  start(service: string, opts: CallOptions = {}): Promise<void> {
    return this.#act(service, 'start', opts);
  }

  stop(service: string, opts: CallOptions = {}): Promise<void> {
    return this.#act(service, 'stop', opts);
  }

  restart(service: string, opts: CallOptions = {}): Promise<void> {
    return this.#act(service, 'restart', opts);
  }

  /**
   * The unit's journal lines since `since`. Without `--quiet`, so journalctl
   * says when it cannot read the journal (a worker outside root, adm and
   * systemd-journal sees no system lines, and would report a clean log);
   * those messages are an error. Its other own lines (`-- No entries --`,
   * boot separators, notices) are not log lines and are dropped.
   */
  async logsSince(service: string, since: Date, opts: CallOptions = {}): Promise<LogLine[]> {
    const argv = [
      this.#journalctl,
      '--unit',
      this.#unit(service),
      '--since',
      `@${Math.floor(since.getTime() / 1000)}`,
      '--output',
      'short-iso-precise',
      '--no-pager',
    ];
    const { exitCode, output } = await runArgv(argv, { service, action: 'logs', timeoutMs: this.#timeoutMs, signal: opts.signal });
    const denied = output.split('\n').find((l) => JOURNAL_DENIED.some((re) => re.test(l)));
    if (denied) {
      const unit = this.#unit(service);
      throw new Error(`the journal of ${unit} could not be read: \`${argv.join(' ')}\` said "${denied.trim()}" (run the worker as root, or in the systemd-journal group)`);
    }
    if (exitCode !== 0) throw new ServiceCommandError({ service, action: 'logs', argv, exitCode, timedOut: false, output });
    const lines: LogLine[] = [];
    for (const text of output.split('\n')) {
      if (text.length === 0) continue;
      const t = parseLeadingTime(text);
      if (t) lines.push({ time: t.toISOString(), text, source: 'journal' });
      // An indented line continues a multi-line message; anything else is journalctl talking.
      else if (/^\s/.test(text) && lines.length > 0) lines.push({ text, source: 'journal' });
    }
    return lines;
  }
}

/** journalctl's messages (systemd 252) when it cannot read the system journal, or only part of it. */
const JOURNAL_DENIED = [/No journal files were opened due to insufficient permissions/i, /^Hint: You are currently not seeing messages from/i, /Failed to open (journal|files)/i];
