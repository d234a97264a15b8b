/** Result of one remote command. `stdout`/`stderr` hold only what the script printed (login noise is stripped). */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Data handed to the script on stdin; user values travel here, never inside the script text. */
  stdin?: string | Buffer;
  /** Names the step in errors ("apply sysctl", ...), so a cut connection says what was interrupted. */
  label?: string;
  /** Default 10 minutes. */
  timeoutMs?: number;
}

/** One SSH connection to one host, used for one operation. */
export interface RemoteSession {
  /** `host:port` for messages. */
  readonly target: string;
  /** Runs a POSIX sh script (as root via `sudo -n` when the connection says so). */
  run(script: string, opts?: RunOptions): Promise<RunResult>;
  close(): void;
  /** false once the connection is known to be closed or lost (a pooled connection is then not reused). */
  readonly alive?: boolean;
}
