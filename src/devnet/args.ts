/**
 * The devnet command line's flags: parsed and checked, each refusal a `UsageError` naming the flag.
 */
import { SERVE_DEFAULTS } from "./server/http.js"

export const NAME = "starknet-session-keys-devnet"

export const HELP = `Usage: ${NAME} [options]

Serves an in-memory Starknet devnet that enforces the session-account rules: Starknet JSON-RPC 0.9 reads,
a SNIP-29 paymaster (paymaster_*), admin methods (devnet_*) and Chipi's REST routes (/v1/...).

Options:
  --port <n>                  port to listen on, 0 for a free one (default 5050)
  --host <address>            address to bind (default 127.0.0.1); beyond loopback needs --admin-key
  --block-time <ms>           milliseconds between blocks (default 2000)
  --chain-id <id>             chain id as a short string or hex (default SN_SEPOLIA)
  --seed <text>               makes wallet owner keys and addresses reproducible
  --caller-mode <any|relayer> the paymaster's caller in typed data (default any)
  --paymaster-api-key <key>   paymaster_* want it in x-paymaster-api-key, /v1 routes in x-api-key
                              (or set DEVNET_PAYMASTER_API_KEY)
  --admin-key <key>           devnet_* want it in x-devnet-admin-key (or set DEVNET_ADMIN_KEY)
  --max-body-bytes <n>        largest request body (default ${SERVE_DEFAULTS.maxBodyBytes})
  --max-batch <n>             most requests in one JSON-RPC batch (default ${SERVE_DEFAULTS.maxBatch})
  --request-timeout <ms>      longest a request may take (default 30000)
  --execution-error <shape>   SNIP-29 error 156 data: nested (default), wrapped, flat or avnu
                              (avnu by default with --profile network)
  --profile <name>            instant (default) or network: the real network as measured
                              (the options below take their network defaults)
  --latest-lag <ms>           latest lags the closed block this long (network 1500)
  --submission-hidden <ms>    a paymaster-sent hash is unknown to the node this long (network 500)
  --candidate-for <ms>        then CANDIDATE this long before PRE_CONFIRMED (default 0)
  --duplicate-filter <ms>     AVNU's duplicate filter on (user, nonce), 0 for off (network 30000)
  --paymaster-errors <style>  snip29 (default) or avnu (network): error codes and data as AVNU's
  --time-bounds <style>       devnet (default) or avnu (network): default windows 1 .. clock + 3600 s
  -h, --help                  show this help

Docs: docs/devnet.md in the package.`

export class UsageError {
  constructor(readonly message: string) {}
}

type Spec = { readonly kind: "string" | "int" | "choice"; readonly min?: number; readonly max?: number; readonly choices?: ReadonlyArray<string> }
const FLAGS: Record<string, Spec> = {
  port: { kind: "int", min: 0, max: 65535 },
  host: { kind: "string" },
  "block-time": { kind: "int", min: 1, max: 3_600_000 },
  "chain-id": { kind: "string" },
  seed: { kind: "string" },
  "caller-mode": { kind: "choice", choices: ["any", "relayer"] },
  "paymaster-api-key": { kind: "string" },
  "admin-key": { kind: "string" },
  "max-body-bytes": { kind: "int", min: 1, max: 1024 * 1024 * 1024 },
  "max-batch": { kind: "int", min: 1, max: 1_000_000 },
  "request-timeout": { kind: "int", min: 1, max: 3_600_000 },
  "execution-error": { kind: "choice", choices: ["nested", "wrapped", "flat", "avnu"] },
  profile: { kind: "choice", choices: ["instant", "network"] },
  "latest-lag": { kind: "int", min: 0, max: 60_000 },
  "submission-hidden": { kind: "int", min: 0, max: 60_000 },
  "candidate-for": { kind: "int", min: 0, max: 60_000 },
  "duplicate-filter": { kind: "int", min: 0, max: 3_600_000 },
  "paymaster-errors": { kind: "choice", choices: ["snip29", "avnu"] },
  "time-bounds": { kind: "choice", choices: ["devnet", "avnu"] }
}

/** Parses argv into flag values, or a `UsageError` naming the flag. */
export const parseArgs = (argv: ReadonlyArray<string>): { readonly help: true } | { readonly help: false; readonly flags: Record<string, string | number> } => {
  // Asking for help wins over whatever else is wrong on the line.
  if (argv.includes("-h") || argv.includes("--help")) return { help: true }
  const flags: Record<string, string | number> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (see --help)`)
    const eq = arg.indexOf("=")
    const name = arg.slice(2, eq >= 0 ? eq : undefined)
    const spec = FLAGS[name]
    if (spec === undefined) throw new UsageError(`unknown option --${name} (see --help)`)
    if (name in flags) throw new UsageError(`--${name} given twice`)
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined || (eq < 0 && value.startsWith("--"))) throw new UsageError(`--${name} needs a value`)
    if (spec.kind === "int") {
      const n = /^\d+$/.test(value) ? Number(value) : NaN
      if (!Number.isSafeInteger(n) || n < spec.min! || n > spec.max!) {
        throw new UsageError(`--${name}: expected an integer from ${spec.min} to ${spec.max}, got ${JSON.stringify(value)}`)
      }
      flags[name] = n
    } else if (spec.kind === "choice") {
      if (!spec.choices!.includes(value)) throw new UsageError(`--${name}: expected one of ${spec.choices!.join(", ")}, got ${JSON.stringify(value)}`)
      flags[name] = value
    } else {
      if (value === "") throw new UsageError(`--${name} needs a value`)
      flags[name] = value
    }
  }
  return { help: false, flags }
}

