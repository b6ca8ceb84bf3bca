/** What every Sluice server (gateway, control plane) hands back once it accepts connections. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:8000 */
  readonly url: string;
  readonly port: number;
  /** Stop accepting, let what is in flight finish (bounded by the server's own drain timeout), release resources. */
  close(): Promise<void>;
  /** Re-read the TLS certificate and key for new connections (SIGHUP); absent on a server without TLS files. */
  reloadTls?(): Promise<void> | void;
}
