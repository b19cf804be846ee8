/**
 * The controller's Prometheus metrics (text exposition format 0.0.4) and its health endpoints:
 * `/healthz` (the process runs), `/readyz` (its caches are synced, or it is a standby replica that is
 * ready to take over), `/metrics`.
 */
import http from "node:http";

type Labels = Record<string, string>;

interface Series {
  help: string;
  type: "counter" | "gauge";
  values: Map<string, { labels: Labels; value: number }>;
}

const labelText = (l: Labels): string => {
  const parts = Object.entries(l).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
};

export class Metrics {
  private readonly series = new Map<string, Series>();

  private get(name: string, help: string, type: Series["type"]): Series {
    let s = this.series.get(name);
    if (!s) {
      s = { help, type, values: new Map() };
      this.series.set(name, s);
    }
    return s;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const s = this.get(name, help, "counter");
    const key = labelText(labels);
    const v = s.values.get(key);
    if (v) v.value += by;
    else s.values.set(key, { labels, value: by });
  }

  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.get(name, help, "gauge").values.set(labelText(labels), { labels, value });
  }

  value(name: string, labels: Labels = {}): number {
    return this.series.get(name)?.values.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, s] of [...this.series].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      for (const { labels, value } of s.values.values()) out.push(`${name}${labelText(labels)} ${value}`);
    }
    return `${out.join("\n")}\n`;
  }
}

export interface HealthState {
  /** Why the replica is not ready, or undefined when it is. */
  notReady(): string | undefined;
}

/** Serves /healthz, /readyz and /metrics on `port` (0: any free port). Resolves with the bound port. */
export function serveHealth(
  metrics: Metrics,
  health: HealthState,
  port: number,
  host = "0.0.0.0",
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url === "/healthz" || url === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (url === "/readyz") {
      const why = health.notReady();
      res.writeHead(why ? 503 : 200, { "content-type": "text/plain" }).end(why ? `${why}\n` : "ok\n");
    } else if (url === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(metrics.render());
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz, /readyz or /metrics\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === "object" && addr ? addr.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
