/**
 * The API keys and bearer tokens the HTTP layers send never leave the HTTP layer: no span name, attribute, event
 * or exit value (success or failure), no log line and no error holds them. The tracer records every span it makes
 * and what each ends with; the scan walks every value reachable from them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Redacted, Tracer } from "effect"
import { Chipi, Devnet, Paymaster, Schemas } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

const PAYMASTER_KEY = "pk_dev_paymaster_key_7f3a9c"
const SECRET_KEY = "sk_dev_secret_key_51e2b8"
const BEARER = "bearer_token_c0ffee_93"
const SECRETS = [PAYMASTER_KEY, SECRET_KEY, BEARER]

interface Recorded {
  readonly name: string
  readonly span: Tracer.Span
  readonly events: Array<unknown>
  exit?: Exit.Exit<unknown, unknown>
}

/** A tracer over the native one that keeps every span, its events and the exit it ends with. */
const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const recorded: Array<Recorded> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      const entry: Recorded = { name, span, events: [] }
      recorded.push(entry)
      const end = span.end.bind(span)
      const event = span.event.bind(span)
      return Object.assign(span, {
        end: (endTime: bigint, exit: Exit.Exit<unknown, unknown>) => {
          entry.exit = exit
          end(endTime, exit)
        },
        event: (name: string, startTime: bigint, attributes?: Record<string, unknown>) => {
          entry.events.push([name, attributes])
          event(name, startTime, attributes)
        }
      })
    },
    context: native.context
  })
  return { tracer, recorded }
})

/** Where a secret is found in anything reachable from `value` (own properties, getters left alone), if anywhere. */
const find = (value: unknown, secrets: ReadonlyArray<string>, path = "", seen = new Set<unknown>()): string | undefined => {
  if (typeof value === "string") return secrets.some((s) => value.includes(s)) ? path : undefined
  if (typeof value !== "object" && typeof value !== "function") return undefined
  if (value === null || seen.has(value)) return undefined
  seen.add(value)
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const hit = find(k, secrets, `${path}.<key>`, seen) ?? find(v, secrets, `${path}.get(${String(k)})`, seen)
      if (hit !== undefined) return hit
    }
  }
  if (value instanceof Set || Array.isArray(value)) {
    let i = 0
    for (const v of value) {
      const hit = find(v, secrets, `${path}[${i++}]`, seen)
      if (hit !== undefined) return hit
    }
  }
  if (typeof value === "function") return undefined
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (descriptor === undefined || !("value" in descriptor)) continue
    // A Redacted value is the one place a secret may sit, by design: it prints as <redacted>.
    if (Redacted.isRedacted(value)) return undefined
    const hit = find(descriptor.value, secrets, `${path}.${String(key)}`, seen)
    if (hit !== undefined) return hit
  }
  return undefined
}

describe("secrets never leave the HTTP layer", () => {
  it.live("SNIP-29 and Chipi calls, answered, refused and unreachable: no span, event, exit, log or error holds a key", () =>
    Effect.gen(function*() {
      const { tracer, recorded } = yield* recordingTracer
      const logs: Array<unknown> = []
      const logger = Logger.make((options) => void logs.push(options.message, options.annotations, options.cause))
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, paymasterApiKey: PAYMASTER_KEY }).pipe(
        Effect.provide(Devnet.layer({ blockTime: "1 hour" }))
      )
      const user = "0x1234" as Schemas.Address
      const use = (pm: Layer.Layer<Paymaster.Paymaster>) =>
        Effect.gen(function*() {
          const paymaster = yield* Paymaster.Paymaster
          return yield* Effect.all([
            Effect.either(paymaster.isAvailable),
            Effect.either(paymaster.buildTransaction({ userAddress: user, calls: [] })),
            Effect.either(paymaster.buildTransaction({ userAddress: user, calls: [{ contractAddress: user, entrypoint: "transfer", calldata: ["0x1" as Schemas.Felt] }] }))
          ])
        }).pipe(Effect.provide(pm))
      const chipi = (baseUrl: string) => Chipi.layer({ apiPublicKey: Redacted.make(PAYMASTER_KEY), apiSecretKey: Redacted.make(SECRET_KEY), baseUrl })
      const results = yield* Effect.all([
        use(Paymaster.layerSnip29({ url, apiKey: Redacted.make(PAYMASTER_KEY) })),
        use(chipi(`${url}/v1`)),
        use(chipi(`${url}/v1`)).pipe(Chipi.withBearerToken(BEARER)),
        // Nothing listens there: transport failures.
        use(Paymaster.layerSnip29({ url: "http://127.0.0.1:9/", apiKey: Redacted.make(PAYMASTER_KEY) })),
        use(chipi("http://127.0.0.1:9/v1"))
      ]).pipe(Effect.withTracer(tracer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Effect.withLogSpan("secrets"))
      const http = recorded.filter((r) => r.name.startsWith("http.client"))
      expect(http.length).toBeGreaterThanOrEqual(10)
      // The header is there, redacted: the requests did carry it (the guarded server answered them).
      expect(http.some((r) => r.span.attributes.has("http.request.header.x-paymaster-api-key"))).toBe(true)
      expect(results[0]![0]).toMatchObject({ _tag: "Right" })
      for (const r of recorded) {
        expect(find([r.name, r.span.attributes, r.events, r.exit], SECRETS, r.name)).toBeUndefined()
        expect(r.exit).toBeDefined()
      }
      expect(find(results, SECRETS, "results")).toBeUndefined()
      expect(find(logs, SECRETS, "logs")).toBeUndefined()
    }).pipe(Effect.scoped))
})
