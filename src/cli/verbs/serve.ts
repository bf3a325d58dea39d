import { existsSync } from "node:fs";
import path from "node:path";
import { isLoopback } from "../../web/guard.js";
import { startServer } from "../../web/server.js";
import { CliError, EXIT } from "../exit-codes.js";
import { type Verb, intOption } from "../verb.js";

export const serveVerb: Verb = {
  name: "serve",
  summary:
    "Local web app: view cases and overlays, label background structures by clicking, watch training, open reports",
  args: "DIR",
  help: `DIR is a dataset folder (dataset.json), or a demo/experiment folder holding dataset/.

  --runs DIR       a folder with training runs, predictions and reports (repeatable; a demo or
                   experiment folder given as DIR is added by itself)
  --host H         address to bind (default 127.0.0.1; anything else exposes your data to the network)
  --port N         port (default 8765; 0 picks a free one)
  --no-token       serve without the access token (loopback addresses only; refused otherwise)
  --allow-host H   another name the browser may use for this server (repeatable; the Host header is
                   checked on every bind address: loopback names, the address itself, and for
                   0.0.0.0 or :: this machine's name and interface addresses)
  --max-body N     largest request body in bytes (default 1048576)
  --sessions N     interactive sessions kept open at once (default 4; each holds one image)
  --device D       cpu, cuda, cuda:N (default cpu) for the random walker
  --threads N      libtorch CPU threads per session
  --json           print the address as one JSON line

Open the printed URL (it carries a random token). Accepted structures are saved under
backgroundTr/<source>/ as a new background source; a source the server did not create is never
overwritten. Stop with Ctrl-C.`,
  options: {
    runs: { type: "string", multiple: true },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8765" },
    "no-token": { type: "boolean", default: false },
    "max-body": { type: "string", default: "1048576" },
    sessions: { type: "string", default: "4" },
    device: { type: "string", default: "cpu" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    "allow-host": { type: "string", multiple: true },
  },
  async run(values, positionals) {
    const dir = positionals[0];
    if (!dir) throw new CliError("serve needs a dataset folder: backsplit serve DIR", EXIT.usage);
    const port = intOption(values, "port", undefined, 0, 65535);
    const maxBodyBytes = intOption(values, "max-body", undefined, 1);
    const maxSessions = intOption(values, "sessions", undefined, 1);
    const host = String(values.host);
    if (values["no-token"] && !isLoopback(host))
      throw new CliError(
        `--no-token is only allowed on a loopback address: on ${host} anyone who can reach the machine could read and write the dataset`,
        EXIT.usage,
      );
    let dataset = path.resolve(dir);
    const runs = ((values.runs as string[] | undefined) ?? []).map((r) => path.resolve(r));
    if (!existsSync(path.join(dataset, "dataset.json")) && existsSync(path.join(dataset, "dataset", "dataset.json"))) {
      runs.unshift(dataset);
      dataset = path.join(dataset, "dataset");
    }
    if (!existsSync(path.join(dataset, "dataset.json")))
      throw new CliError(`${dir}: no dataset.json (nor dataset/dataset.json)`, EXIT.environment);
    const server = await startServer({
      dataset,
      runs,
      host,
      allowHosts: (values["allow-host"] as string[] | undefined) ?? [],
      port,
      token: values["no-token"] ? null : undefined,
      maxBodyBytes,
      maxSessions,
      device: String(values.device),
      threads: values.threads ? intOption(values, "threads", undefined, 1) : undefined,
    });
    if (!isLoopback(host))
      console.error(
        `warning: listening on ${host}: anyone who can reach this machine and has the token can read and write the dataset`,
      );
    if (values.json) console.log(JSON.stringify({ url: server.openUrl, dataset, runs }));
    else {
      console.log(`backsplit serve: ${dataset}${runs.length ? ` (runs: ${runs.join(", ")})` : ""}`);
      console.log(`open ${server.openUrl}`);
      if (!server.token)
        console.log("warning: --no-token: anyone who can reach this address can read and write the dataset");
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await server.close();
    return EXIT.ok;
  },
};
