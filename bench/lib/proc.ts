/**
 * Child processes for the benchmark, one per subject, so CPU time and memory belong to one subject only.
 *
 * CPU and memory come from /proc (Linux): utime+stime of /proc/<pid>/stat (clock ticks, 100 Hz) sampled
 * around each measurement window, VmRSS (now) and VmHWM (peak since start) from /proc/<pid>/status.
 * A node subject announces itself over the IPC channel (`process.send({ ready: ... })`); anything else
 * (nginx) is ready when its port accepts a connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, closeSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ); 100 on every Linux this runs on. */
const USER_HZ = 100;

/** Seconds of CPU (user + system) used so far by `pid`, or NaN when /proc cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / USER_HZ; // utime (14), stime (15)
  } catch {
    return Number.NaN;
  }
}

/** VmRSS and VmHWM in MB (1 MB = 2^20 bytes), NaN when unreadable. */
export function memoryMB(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** A free TCP port on 127.0.0.1 (for nginx, which cannot report a port 0 binding back). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a TCP connection (or rejects after timeoutMs). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunningProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** What the child reported when ready (node children), else {}. */
  readonly info: Record<string, string>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

function stopper(child: ChildProcess): (graceMs?: number) => Promise<void> {
  return (graceMs = 5_000) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

export interface NodeChildOptions {
  /** Entry file: a .ts file runs with `--import tsx`, a .js/.mjs file runs as it is (see lib/build.ts). */
  readonly script: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** stdout and stderr go to this file (the subject's own log, like nginx's access log). */
  readonly logFile: string;
  readonly readyTimeoutMs?: number;
}

/**
 * Starts `node [--import tsx] <script>` and waits for `{ ready: {...} }` on the IPC channel.
 * Rejects (and kills the child) when it exits or stays silent first.
 */
export function startNodeChild(options: NodeChildOptions): Promise<RunningProcess> {
  const fd = openSync(options.logFile, 'a');
  const loader = options.script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, options.script, ...(options.args ?? [])], {
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, ...options.env },
  });
  closeSync(fd);
  const stop = stopper(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.script} did not report ready in time (see ${options.logFile})`));
    }, options.readyTimeoutMs ?? 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${options.script} exited (${code ?? signal}) before it was ready: ${firstError(options.logFile)} (see ${options.logFile})`));
    });
    child.on('message', (msg: { ready?: Record<string, string> }) => {
      if (!msg || typeof msg !== 'object' || !msg.ready) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.disconnect(); // the IPC channel is not needed any more
      resolve({ pid: child.pid!, child, info: msg.ready, stop });
    });
  });
}

/** The first line of a log that names an error (a child's crash), shortened. */
function firstError(logFile: string): string {
  try {
    const line = readFileSync(logFile, 'utf8').split('\n').find((l) => /^\w*Error\b|^\w+ \[\w*Error\]/.test(l));
    return line ? line.slice(0, 400) : 'no error line in its log';
  } catch {
    return 'no log';
  }
}

/** Starts any program (nginx) and waits for its port. */
export async function startProgram(
  file: string,
  args: readonly string[],
  port: number,
  logFile: string,
): Promise<RunningProcess> {
  const fd = openSync(logFile, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`${file} exited (${code ?? signal}); see ${logFile}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port), exited]);
  return { pid: child.pid!, child, info: {}, stop: stopper(child) };
}

/** Reports readiness from inside a node child (no-op when not started with IPC). */
export function reportReady(info: Record<string, string>): void {
  process.send?.({ ready: info });
}

/** CPU seconds the whole machine spent busy (all CPUs: user, nice, system, irq, softirq, steal). */
export function machineBusySeconds(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of this process itself plus its reaped children (cutime + cstime: wrk once it exited). */
export function selfAndReapedChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** 1-minute load average. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}
