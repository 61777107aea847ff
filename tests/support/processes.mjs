// Processes the end-to-end tests start and stop: a dev server, its PostgreSQL, the demo page.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts `command args`; `line` resolves to the rest of its first stdout line starting with
 * `prefix` (a ready line), and rejects if it exits first. Its stderr is inherited or dropped.
 */
export function start(command, args, prefix, { stderr = 'ignore' } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', stderr] });
  const line = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (text) => {
      if (text.startsWith(prefix)) resolve(text.slice(prefix.length));
    });
    child.on('exit', (code) => reject(new Error(`${command} ${args[0]} exited with ${code}`)));
  });
  return { child, line };
}

/** Stops `child` with `signal` (SIGTERM lets a dev server delete its cluster); resolves once it is gone. */
export function stop(child, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.on('exit', resolve);
    child.kill(signal);
  });
}
