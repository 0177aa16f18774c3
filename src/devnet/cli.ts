#!/usr/bin/env node
/**
 * `starknet-session-keys-devnet [options]`: serves an embedded devnet over HTTP (Starknet JSON-RPC, the SNIP-29
 * paymaster, `devnet_*` admin methods and Chipi's REST routes) until interrupted. Every flag is checked; a bad one
 * is one line on stderr and exit code 2, a server that cannot start one line and exit code 1.
 */
import { Cause, Effect, Exit, Fiber, Layer, Option } from "effect"
import * as Devnet from "../Devnet.js"
import * as DevnetServer from "../DevnetServer.js"

const NAME = "starknet-session-keys-devnet"

const HELP = `Usage: ${NAME} [options]

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
  --max-body-bytes <n>        largest request body (default ${DevnetServer.SERVE_DEFAULTS.maxBodyBytes})
  --max-batch <n>             most requests in one JSON-RPC batch (default ${DevnetServer.SERVE_DEFAULTS.maxBatch})
  --request-timeout <ms>      longest a request may take (default 30000)
  --execution-error <shape>   SNIP-29 error 156 data: nested (default), wrapped or flat
  -h, --help                  show this help

Docs: docs/devnet.md in the package.`

class UsageError {
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
  "execution-error": { kind: "choice", choices: ["nested", "wrapped", "flat"] }
}

/** Parses argv into flag values, or a `UsageError` naming the flag. */
export const parseArgs = (argv: ReadonlyArray<string>): { readonly help: true } | { readonly help: false; readonly flags: Record<string, string | number> } => {
  const flags: Record<string, string | number> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "-h" || arg === "--help") return { help: true }
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

const fail = (message: string, code: number): never => {
  process.stderr.write(`${NAME}: ${message}\n`)
  process.exit(code)
}

const main = () => {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) return fail(error.message, 2)
    throw error
  }
  if (parsed.help) {
    process.stdout.write(HELP + "\n")
    return
  }
  const f = parsed.flags
  const str = (name: string) => (typeof f[name] === "string" ? (f[name] as string) : undefined)
  const num = (name: string) => (typeof f[name] === "number" ? (f[name] as number) : undefined)
  const blockTime = num("block-time") ?? 2000
  const paymasterApiKey = str("paymaster-api-key") ?? process.env["DEVNET_PAYMASTER_API_KEY"]
  const adminKey = str("admin-key") ?? process.env["DEVNET_ADMIN_KEY"]
  const chainId = str("chain-id")
  const seed = str("seed")
  const callerMode = str("caller-mode") as "any" | "relayer" | undefined
  const timeout = num("request-timeout")
  const maxBodyBytes = num("max-body-bytes")
  const maxBatch = num("max-batch")
  const shape = str("execution-error") as DevnetServer.ExecutionErrorShape | undefined

  const program = Effect.gen(function*() {
    const { url } = yield* DevnetServer.serve({
      port: num("port") ?? 5050,
      host: str("host") ?? "127.0.0.1",
      ...(paymasterApiKey !== undefined && paymasterApiKey !== "" ? { paymasterApiKey } : {}),
      ...(adminKey !== undefined && adminKey !== "" ? { adminKey } : {}),
      ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
      ...(maxBatch !== undefined ? { maxBatch } : {}),
      ...(timeout !== undefined ? { requestTimeout: `${timeout} millis` as const } : {}),
      ...(shape !== undefined ? { executionErrorShape: shape } : {})
    })
    const devnet = yield* Devnet.Devnet
    const log = (line: string) => Effect.sync(() => process.stdout.write(line + "\n"))
    yield* log(`${NAME} listening on ${url}`)
    yield* log(`  chain id ${devnet.chainId}, block time ${blockTime} ms, paymaster relayer ${devnet.relayer}`)
    yield* log(`  JSON-RPC 2.0: starknet_* (spec 0.9), paymaster_* (SNIP-29${paymasterApiKey ? ", x-paymaster-api-key required" : ""}), devnet_*${adminKey ? " (x-devnet-admin-key required)" : ""}; REST: /v1/transactions/...`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.fresh(Devnet.layer({
      blockTime: `${blockTime} millis`,
      ...(chainId !== undefined ? { chainId } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(callerMode !== undefined ? { callerMode } : {})
    })))
  )
  const fiber = Effect.runFork(program)
  const stop = () => void Effect.runFork(Fiber.interrupt(fiber))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  fiber.addObserver((exit) => {
    if (Exit.isSuccess(exit) || Exit.isInterrupted(exit)) process.exit(0)
    const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
    if (error instanceof DevnetServer.ServeError) {
      fail(error.reason === "AddressInUse" ? `${error.message} (choose another with --port, or --port 0 for a free one)` : error.message, 1)
    }
    fail(Cause.pretty(exit.cause).split("\n")[0] ?? "failed", 1)
  })
}

main()
