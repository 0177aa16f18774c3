/**
 * The Promise client: the guide's calls and argument shapes, for plain Node code. A thin layer over a
 * `ManagedRuntime`; failures reject with the typed error classes themselves, so `e instanceof Expired` works.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Exit, Layer, ManagedRuntime, Redacted, Schedule, Scope } from "effect"
import * as ChipiLayers from "./Chipi.js"
import { Crypto } from "./Crypto.js"
import { ClientClosed, InvalidInput } from "./Errors.js"
import * as CryptoLayer from "./Crypto.js"
import * as Devnet from "./Devnet.js"
import type { Paymaster } from "./Paymaster.js"
import * as PaymasterLayers from "./Paymaster.js"
import * as Policies from "./Policies.js"
import * as Signer from "./Signer.js"
import type { SessionData, SessionKeyData, TransactionStatus, WalletData } from "./Schemas.js"
import * as Sessions from "./Sessions.js"
import type { Receipt, StarknetRpc } from "./StarknetRpc.js"
import * as StarknetRpcLayers from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

export * as Calls from "./Calls.js"
export { STARKNET_CONTRACTS } from "./Constants.js"
export * from "./Errors.js"
// The types of what the client's calls take and give, so that an app can name them (and its declarations can).
export type { SessionData, SessionKeyData, TransactionStatus, WalletData } from "./Schemas.js"
export type { Receipt } from "./StarknetRpc.js"
export type { Outcome as ExecutionOutcome, SpendingPolicyConfig, SpendingPolicyData } from "./Sessions.js"
export type { CreateWalletParams, DevnetHandle, DevnetOptions } from "./Devnet.js"
export type {
  Outcome as AutomationOutcome,
  SpendingPolicy as AutomationSpendingPolicy,
  Status as AutomationStatus
} from "./Automations.js"

/**
 * The services a client runs on.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientServices = Crypto | Paymaster | StarknetRpc | Sessions.Ledger

/**
 * Options of `createClient`. With none (or `{ devnet }`), the client runs on an embedded devnet (`client.devnet`);
 * a devnet is never a fallback: an unknown or misspelt option makes a client whose every call rejects with
 * `InvalidInput` naming it.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientOptions = (
  | { readonly devnet?: Devnet.DevnetOptions }
  | {
    /**
     * Chipi's REST API as the paymaster (the guide's constructor options), and a Starknet JSON-RPC node for reads:
     * `rpcUrl`, else `STARKNET_RPC_URL` from the environment (as Chipi's SDK reads it).
     */
    readonly apiPublicKey: string
    readonly apiSecretKey: string
    readonly baseUrl?: string | undefined
    readonly rpcUrl?: string | undefined
    /** The node's WebSocket URL (`ws://` or `wss://`): see `wsUrl` of the `{ rpcUrl, paymasterUrl }` client. */
    readonly wsUrl?: string | undefined
  }
  | {
    /** A Starknet JSON-RPC node and a SNIP-29 paymaster. */
    readonly rpcUrl: string
    readonly paymasterUrl: string
    readonly paymasterApiKey?: string | undefined
    /**
     * The node's WebSocket URL (`ws://` or `wss://`, RPC 0.9), for `StarknetRpc.layerHttp`'s `wsUrl`: waits hear
     * each status change through a subscription instead of polling (and poll only while the connection is down),
     * and the preflight's latest block is the newest header heard. The connection lives until `close`.
     */
    readonly wsUrl?: string | undefined
  }
  | {
    /** Any layer providing `StarknetRpc` and `Paymaster` (and optionally `Crypto`). */
    readonly layer: Layer.Layer<Paymaster | StarknetRpc, unknown>
    readonly crypto?: Layer.Layer<Crypto>
  }
) & {
  /** Policies of wallets, checked before every payment is signed (see the `Policies` module and docs/policies.md). */
  readonly policies?: Policies.WalletPoliciesConfig
  /**
   * A remote signer holding the session keys (`starknet-session-keys/signer`): executes are signed there, and this
   * process never decrypts a session key.
   */
  readonly signer?: { readonly url: string; readonly apiKey: string }
}

/**
 * A wallet as the client takes it: its address and its owner key encrypted under the user's PIN.
 *
 * @since 0.1.0
 * @category models
 */
export interface Wallet {
  readonly publicKey: string
  readonly encryptedPrivateKey: string
}

/**
 * A session key as `createSessionKey` gives it (its private key encrypted under the PIN).
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  readonly publicKey: string
  readonly encryptedPrivateKey: string
  readonly validUntil: number
}

/**
 * One call of a transaction, as the guide writes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallInput {
  readonly contractAddress: string
  readonly entrypoint: string
  readonly calldata?: ReadonlyArray<string | number | bigint>
}

/**
 * The params of `executeTransactionWithSession`, in both of the Chipi SDK's shapes.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteWithSessionParams {
  readonly encryptKey: string
  readonly wallet: Wallet
  readonly session: Session
  readonly calls: ReadonlyArray<CallInput>
  /**
   * Names one payment across retries: while the payload signed for it can still execute, a call with the same
   * key sends that same payload again, so the payment moves at most once (see docs/exactly-once.md).
   */
  readonly idempotencyKey?: string
}

/**
 * The client, shaped as the guide's SDK.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly sessions: {
    /** Synchronous, as in the guide: a key pair with the private key encrypted under the PIN. */
    readonly createSessionKey: (
      params: { readonly encryptKey: string; readonly durationSeconds?: number; readonly policy?: Policies.PolicyInput }
    ) => SessionKeyData
    /** Attaches a policy to a session key (replacing one attached before); `Policies.attach`. */
    readonly attachPolicy: (params: { readonly sessionPublicKey: string; readonly policy: Policies.PolicyInput }) => Promise<void>
    /** The kill switch: `Sessions.revokeAll`. */
    readonly revokeAll: (
      params: { readonly encryptKey: string; readonly wallet: Wallet; readonly sessionPublicKeys?: ReadonlyArray<string> },
      bearerToken?: string
    ) => Promise<Sessions.RevokedAll>
    /** Lets a wallet stopped by `revokeAll` pay again: `Sessions.resumeWallet`. */
    readonly resumeWallet: (params: { readonly walletAddress: string }) => Promise<void>
    /** A revoke-all signed now, to be sent later without the PIN: `Sessions.presignRevokeAll`. */
    readonly presignRevokeAll: (
      params: { readonly encryptKey: string; readonly wallet: Wallet; readonly sessionPublicKeys?: ReadonlyArray<string> },
      options?: { readonly validForMs?: number }
    ) => Promise<Sessions.PresignedRevokeAll>
    /** Sends a presigned revoke-all: `Sessions.sendRevokeAll`. */
    readonly sendRevokeAll: (presigned: unknown) => Promise<{ readonly _tag: "Sent"; readonly txHash: string } | { readonly _tag: "Duplicate" }>
    readonly addSessionKeyToContract: (
      params: {
        readonly encryptKey: string
        readonly wallet: Wallet
        readonly sessionConfig: {
          readonly sessionPublicKey: string
          readonly validUntil: number
          readonly maxCalls: number
          readonly allowedEntrypoints?: ReadonlyArray<string>
        }
      },
      bearerToken?: string
    ) => Promise<string>
    readonly revokeSessionKey: (
      params: { readonly encryptKey: string; readonly wallet: Wallet; readonly sessionPublicKey: string },
      bearerToken?: string
    ) => Promise<string>
    readonly getSessionData: (params: { readonly walletAddress: string; readonly sessionPublicKey: string }) => Promise<SessionData>
    /** The Chipi SDK's `setSpendingPolicy`: an owner-signed, sponsored `set_spending_policy`; resolves with the hash. */
    readonly setSpendingPolicy: (
      params: { readonly encryptKey: string; readonly wallet: Wallet; readonly spendingPolicyConfig: Sessions.SpendingPolicyConfig },
      bearerToken?: string
    ) => Promise<string>
    /** The Chipi SDK's `getSpendingPolicy` (all zero: no policy), with `remainingInWindow` and `windowResetsAt`. */
    readonly getSpendingPolicy: (
      params: { readonly walletAddress: string; readonly sessionPublicKey: string; readonly token: string }
    ) => Promise<Sessions.SpendingPolicyData>
    /** The Chipi SDK's `removeSpendingPolicy`: an owner-signed, sponsored `remove_spending_policy`. */
    readonly removeSpendingPolicy: (
      params: { readonly encryptKey: string; readonly wallet: Wallet; readonly sessionPublicKey: string; readonly token: string },
      bearerToken?: string
    ) => Promise<string>
    /** The Chipi SDK's `sessions.executeTransactionWithSession(params, bearerToken)`: the same as the client's own. */
    readonly executeTransactionWithSession: (params: ExecuteWithSessionParams, bearerToken?: string) => Promise<string>
  }
  /** The Chipi SDK's `executeTransactionWithSession({ params, bearerToken })`; resolves with the hash. */
  readonly executeTransactionWithSession: (args: {
    readonly params: ExecuteWithSessionParams
    readonly bearerToken?: string | undefined
  }) => Promise<string>
  /**
   * Settles a payment whose outcome was unknown (`OutcomeUnknown`) from the chain: resolves with
   * `{ _tag: "Executed", transactionHash }` or `{ _tag: "NotExecuted", nonce, executeBefore }` (its window closed with
   * its nonce unused: safe to pay again). `Sessions.resolve` of the Effect API; rejects with `OutcomeUnknown` when
   * `timeoutMs` ends first, with `InvalidInput` for a key this client never recorded.
   */
  readonly resolveExecution: (params: {
    readonly walletAddress: string
    readonly idempotencyKey: string
    readonly timeoutMs?: number
  }) => Promise<Sessions.Outcome>
  /** Accepts the guide's `{ txHash }` or a plain hash. */
  readonly getTransactionStatus: (args: { readonly txHash: string } | string, bearerToken?: string) => Promise<TransactionStatus>
  /**
   * Resolves with the receipt on success; rejects with `Reverted`, `Timeout` or `TransactionNotFound`, or, for an
   * execute this client sent that the chain refused at inclusion for a session reason, with the precise typed error
   * (`MaxCallsExceeded`, `Expired`, …).
   */
  readonly waitForTransaction: (
    args: { readonly txHash: string; readonly timeoutMs?: number; readonly intervalMs?: number } | string
  ) => Promise<Receipt>
  /**
   * Durable time-boxed automations on this client's services (see docs/automations.md). Loaded on first use, so
   * the client needs `@effect/workflow` (and the SQL packages for a durable engine) only when this is called.
   */
  readonly automations: (options: AutomationsClientOptions) => Promise<AutomationsClient>
  /** The embedded devnet, when the client runs on one. */
  readonly devnet: DevnetClient | undefined
  /** The runtime, to run Effects of your own on the client's services. */
  readonly runtime: ManagedRuntime.ManagedRuntime<ClientServices, unknown>
  readonly close: () => Promise<void>
}

/**
 * Options of `client.automations`.
 *
 * @since 0.1.0
 * @category models
 */
export interface AutomationsClientOptions {
  /** Encrypts the session keys at rest (never the user's PIN). */
  readonly serverKey: string
  /**
   * The workflow engine and the automation store (`WorkflowEngine | Automations.Store`), e.g. `layerEngineSingle()`
   * with `layerStoreSql()` on `layerPglite(...)`; by default both in memory (nothing survives a restart).
   */
  readonly engine?: Layer.Layer<any, unknown, never>
  readonly pollIntervalMs?: number
}

/**
 * Automations as Promises: `start`, `status`, `cancel`, `awaitEnd`, rejecting with the typed errors.
 *
 * @since 0.1.0
 * @category models
 */
export interface AutomationsClient {
  readonly start: (definition: {
    readonly automationId: string
    readonly wallet: Wallet
    readonly pin: string
    readonly calls: (step: number) => ReadonlyArray<CallInput>
    readonly schedule: { readonly everyMs: number; readonly times: number } | { readonly cron: string; readonly times: number }
    readonly marginMs?: number
    /**
     * Set on chain by the registration itself (the same owner-signed outside execution): a step that would exceed
     * it is refused before it is signed and ends the plan (`errorTag: "SpendingLimitExceeded"`), then the session
     * is revoked.
     */
    readonly spendingPolicy?: import("./Automations.js").SpendingPolicy | ReadonlyArray<import("./Automations.js").SpendingPolicy>
  }) => Promise<import("./Automations.js").Status>
  readonly status: (automationId: string) => Promise<import("./Automations.js").Status>
  readonly cancel: (automationId: string) => Promise<void>
  readonly awaitEnd: (automationId: string) => Promise<import("./Automations.js").Outcome>
  readonly close: () => Promise<void>
}

/**
 * The embedded devnet's controls, as Promises.
 *
 * @since 0.1.0
 * @category models
 */
export interface DevnetClient {
  readonly createWallet: (params: Devnet.CreateWalletParams) => Promise<WalletData>
  readonly handle: () => Promise<Devnet.DevnetHandle>
}

/**
 * Runs an effect and rejects with its typed error itself (not a wrapper), so `instanceof` works. The effect is built
 * inside the runtime (`Effect.suspend`), so whatever throws while building it rejects too. Once the runtime is
 * closed (`isClosed`), a call rejects with `ClientClosed`, and so does a call cut short by the close.
 */
const toPromise = <A, E>(
  runtime: ManagedRuntime.ManagedRuntime<any, any>,
  build: () => Effect.Effect<A, E, any>,
  method: string,
  isClosed: () => boolean
): Promise<A> => {
  if (isClosed()) return Promise.reject(new ClientClosed({ method }))
  try {
    return runtime.runPromiseExit(Effect.suspend(build)).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      if (isClosed() && (Cause.isInterruptedOnly(exit.cause) || Cause.isDie(exit.cause))) throw new ClientClosed({ method })
      throw Cause.squash(exit.cause)
    })
  } catch (e) {
    return Promise.reject(e)
  }
}

const invalid = (path: string, rule: string) => new InvalidInput({ path, rule, issues: [{ path, rule }] })

/** What a value is, for a message that must not echo it (it may be a PIN or an encrypted key). */
const kindOfValue = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value)

/** The argument at `path` as an object, or `InvalidInput` naming it (without echoing what was passed instead). */
const argument = (value: unknown, path: string): Effect.Effect<Readonly<Record<string, unknown>>, InvalidInput> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Effect.succeed(value as Readonly<Record<string, unknown>>)
    : Effect.fail(invalid(path, value === undefined ? "is required" : `must be an object, not ${kindOfValue(value)}`))

/** The objects an argument must hold (`wallet`, `session`, …), each checked as `argument` does. */
const withObjects = (value: unknown, path: string, fields: ReadonlyArray<string>) =>
  Effect.flatMap(argument(value, path), (object) =>
    Effect.as(Effect.forEach(fields, (field) => argument(object[field], field), { discard: true }), object))

/** The PIN of an argument, as a `Redacted`; never echoed in an error. */
const pinOf = (params: Readonly<Record<string, unknown>>): Effect.Effect<Redacted.Redacted<string>, InvalidInput> =>
  typeof params["encryptKey"] === "string"
    ? Effect.succeed(Redacted.make(params["encryptKey"]))
    : Effect.fail(invalid("encryptKey", params["encryptKey"] === undefined ? "is required" : `must be a string, not ${kindOfValue(params["encryptKey"])}`))

/** An owner-signed call's argument, its objects checked and its PIN made `Redacted`, as the Effect API takes it. */
const ownerSigned = <P extends object>(params: P, fields: ReadonlyArray<string>) =>
  Effect.map(Effect.flatMap(withObjects(params, "params", fields), pinOf), (encryptKey) => ({ ...params, encryptKey }))

/** A number of milliseconds given to the client: finite and not negative. */
const millisOf = (value: unknown, path: string): Effect.Effect<number | undefined, InvalidInput> =>
  value === undefined
    ? Effect.succeed(undefined)
    : typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Effect.succeed(value)
    : Effect.fail(invalid(path, "must be a finite number of milliseconds, 0 or more"))

/** A transaction hash given as the guide does (`{ txHash }`) or plainly. */
const txHashOf = (args: unknown): Effect.Effect<unknown, InvalidInput> =>
  typeof args === "string" ? Effect.succeed(args) : Effect.map(argument(args, "txHash"), (object) => object["txHash"])

/** The options of each kind of client, and how a message names that kind. */
const optionsOf = {
  devnet: { keys: ["devnet"], label: "{ devnet }" },
  chipi: { keys: ["apiPublicKey", "apiSecretKey", "baseUrl", "rpcUrl", "wsUrl"], label: "{ apiPublicKey, apiSecretKey, baseUrl, rpcUrl, wsUrl }" },
  snip29: { keys: ["rpcUrl", "paymasterUrl", "paymasterApiKey", "wsUrl"], label: "{ rpcUrl, paymasterUrl, paymasterApiKey, wsUrl }" },
  layer: { keys: ["layer", "crypto"], label: "{ layer, crypto }" }
} as const
type Kind = keyof typeof optionsOf
/** Options every kind of client takes. */
const commonOptions: ReadonlyArray<string> = ["policies", "signer"]
const allOptions: ReadonlyArray<string> = [...new Set([...Object.values(optionsOf).flatMap((kind) => kind.keys), ...commonOptions])]

/** Edits (insertions, deletions, substitutions) from one name to another, case aside. */
const distance = (a: string, b: string): number => {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  let row = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const next = [i]
    for (let j = 1; j <= y.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[y.length]!
}

/** The option a misspelt key most likely meant: the nearest, within a third of its length. */
const meant = (key: string): string | undefined => {
  const [best] = allOptions.map((name) => [name, distance(key, name)] as const).sort((a, b) => a[1] - b[1])
  return best !== undefined && best[1] <= Math.max(1, Math.floor(best[0].length / 3)) ? best[0] : undefined
}

/** Which client the options ask for: a key only one kind has decides; none at all is the devnet. */
const kindOf = (keys: ReadonlyArray<string>): Kind =>
  keys.includes("layer")
    ? "layer"
    : keys.includes("apiPublicKey") || keys.includes("apiSecretKey")
    ? "chipi"
    : keys.includes("rpcUrl") || keys.includes("paymasterUrl") || keys.includes("paymasterApiKey")
    ? "snip29"
    : "devnet"

/** What is wrong with the options, before anything is built or asked: an unknown key, a missing or bad URL. */
const optionsProblem = (options: unknown): InvalidInput | undefined => {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return invalid("options", `must be an object, not ${kindOfValue(options)}`)
  }
  const given = options as Readonly<Record<string, unknown>>
  const keys = Object.keys(given)
  const kind = kindOf(keys)
  for (const key of keys) {
    if ((optionsOf[kind].keys as ReadonlyArray<string>).includes(key) || commonOptions.includes(key)) continue
    if (allOptions.includes(key)) return invalid(key, `is not an option of a ${optionsOf[kind].label} client`)
    const guess = meant(key)
    return invalid(
      key,
      `unknown option${guess !== undefined ? ` (did you mean ${guess}?)` : ""}; the options are ` +
        Object.values(optionsOf).map((k) => k.label).join(", ") + " (none: an embedded devnet)"
    )
  }
  const signer = given["signer"] as { readonly url?: unknown; readonly apiKey?: unknown } | undefined
  if (
    signer !== undefined &&
    (typeof signer !== "object" || signer === null || typeof signer.url !== "string" || !URL.canParse(signer.url) || typeof signer.apiKey !== "string")
  ) {
    return invalid("signer", "must be { url, apiKey }")
  }
  if (given["policies"] !== undefined) {
    const made = Effect.runSync(Effect.either(Policies.make(given["policies"] as Policies.WalletPoliciesConfig)))
    if (made._tag === "Left") return made.left
  }
  if (kind === "layer") {
    if (!Layer.isLayer(given["layer"])) return invalid("layer", "must be a Layer providing StarknetRpc and Paymaster")
    if (given["crypto"] !== undefined && !Layer.isLayer(given["crypto"])) return invalid("crypto", "must be a Layer providing Crypto")
  }
  if (kind === "devnet" || kind === "layer") return undefined
  // A missing or malformed setting is an error naming it, before any request.
  const rpcUrl = kind === "chipi" ? given["rpcUrl"] ?? process.env["STARKNET_RPC_URL"] : given["rpcUrl"]
  const checks: ReadonlyArray<readonly [string, unknown]> = [
    ["rpcUrl (or STARKNET_RPC_URL)", rpcUrl],
    ...(kind === "snip29" ? [["paymasterUrl", given["paymasterUrl"]] as const] : []),
    ...(kind === "chipi" && given["baseUrl"] !== undefined ? [["baseUrl", given["baseUrl"]] as const] : [])
  ]
  for (const [name, value] of checks) {
    if (value === undefined) return invalid(name, "is required")
    if (typeof value !== "string" || !URL.canParse(value)) return invalid(name, "must be a URL")
  }
  const wsUrl = given["wsUrl"]
  if (wsUrl !== undefined && (typeof wsUrl !== "string" || !URL.canParse(wsUrl) || !["ws:", "wss:"].includes(new URL(wsUrl).protocol))) {
    return invalid("wsUrl", "must be a ws:// or wss:// URL")
  }
  if (kind === "chipi") {
    for (const name of ["apiPublicKey", "apiSecretKey"]) {
      if (typeof given[name] !== "string" || given[name] === "") return invalid(name, "apiPublicKey and apiSecretKey are required")
    }
  }
  return undefined
}

/** The options a client is built from, once `optionsProblem` found none wrong. */
interface GivenOptions {
  readonly devnet?: Devnet.DevnetOptions
  readonly apiPublicKey?: string
  readonly apiSecretKey?: string
  readonly baseUrl?: string | undefined
  readonly rpcUrl?: string | undefined
  readonly wsUrl?: string | undefined
  readonly paymasterUrl?: string
  readonly paymasterApiKey?: string | undefined
  readonly layer?: Layer.Layer<Paymaster | StarknetRpc, unknown>
  readonly crypto?: Layer.Layer<Crypto>
}

/** The WebSocket URL a live client's node is watched through, if given. */
const wsOption = (given: GivenOptions) => given.wsUrl !== undefined ? { wsUrl: given.wsUrl } : {}

/** The chain and paymaster a client runs on: its node and Chipi's REST API or a SNIP-29 paymaster, a devnet, or a layer. */
const servicesOf = (
  problem: InvalidInput | undefined,
  kind: Kind | undefined,
  given: GivenOptions,
  devnetLayer: Layer.Layer<Paymaster | StarknetRpc | Devnet.Devnet, unknown> | undefined
): Layer.Layer<Paymaster | StarknetRpc | Devnet.Devnet, unknown> | Layer.Layer<Paymaster | StarknetRpc, unknown> =>
  problem !== undefined
    ? Layer.fail(problem)
    : kind === "chipi"
    ? Layer.merge(
      StarknetRpcLayers.layerHttp({ url: (given.rpcUrl ?? process.env["STARKNET_RPC_URL"])!, ...wsOption(given) }),
      ChipiLayers.layer({
        apiPublicKey: Redacted.make(given.apiPublicKey!),
        apiSecretKey: Redacted.make(given.apiSecretKey!),
        ...(given.baseUrl !== undefined ? { baseUrl: given.baseUrl } : {})
      })
    )
    : kind === "snip29"
    ? Layer.merge(
      StarknetRpcLayers.layerHttp({ url: given.rpcUrl!, ...wsOption(given) }),
      PaymasterLayers.layerSnip29({
        url: given.paymasterUrl!,
        ...(given.paymasterApiKey !== undefined ? { apiKey: Redacted.make(given.paymasterApiKey) } : {})
      })
    )
    : devnetLayer ?? given.layer!

/** A Promise method: its body reads the arguments and builds the Effect inside the client's runtime. */
type Method = <Args extends ReadonlyArray<any>, A, E>(name: string, body: (...args: Args) => Effect.Effect<A, E, any>) => (...args: Args) => Promise<A>

/** Both of the Chipi SDK's `executeTransactionWithSession`: the params, and the bearer token for its paymaster. */
const executeWithSession = (params: unknown, bearerToken: unknown) =>
  Effect.gen(function*() {
    const checked = yield* withObjects(params, "params", ["wallet", "session"])
    const encryptKey = yield* pinOf(checked)
    if (bearerToken !== undefined && typeof bearerToken !== "string") return yield* invalid("bearerToken", "must be a string")
    const asked = params as ExecuteWithSessionParams
    return yield* Sessions.execute(
      { ...asked, encryptKey },
      asked.idempotencyKey !== undefined ? { idempotencyKey: asked.idempotencyKey } : {}
    ).pipe(ChipiLayers.withBearerToken(bearerToken as string | undefined))
  })

/** The guide's synchronous `createSessionKey`: it throws, but only the typed error. */
const createSessionKeyWith = (
  problem: InvalidInput | undefined,
  isClosed: () => boolean,
  crypto: Crypto["Type"],
  local: Layer.Layer<Crypto | Sessions.Ledger>
): Client["sessions"]["createSessionKey"] =>
(params) => {
  if (problem !== undefined) throw problem
  if (isClosed()) throw new ClientClosed({ method: "createSessionKey" })
  const exit = Effect.runSyncExit(
    Effect.gen(function*() {
      const checked = yield* argument(params, "params")
      const encryptKey = yield* pinOf(checked)
      return yield* Sessions.createSessionKey({
        encryptKey,
        ...(checked["durationSeconds"] !== undefined ? { durationSeconds: checked["durationSeconds"] as number } : {}),
        ...(checked["policy"] !== undefined ? { policy: checked["policy"] as Policies.PolicyInput } : {})
      })
    }).pipe(
      // The guide's createSessionKey returns at once: its scrypt runs on the calling thread.
      Effect.provideService(Crypto, CryptoLayer.withSynchronousEncryption(crypto)),
      Effect.provide(local)
    )
  )
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

/** The client's `sessions`: the guide's calls, each a Promise method. */
const sessionsClient = (method: Method, createSessionKey: Client["sessions"]["createSessionKey"]): Client["sessions"] => ({
  createSessionKey,
  addSessionKeyToContract: method("addSessionKeyToContract", (params, bearerToken) =>
    Effect.flatMap(ownerSigned(params, ["wallet", "sessionConfig"]), (signed) => Sessions.register(signed).pipe(ChipiLayers.withBearerToken(bearerToken)))),
  revokeSessionKey: method("revokeSessionKey", (params, bearerToken) =>
    Effect.flatMap(ownerSigned(params, ["wallet"]), (signed) => Sessions.revoke(signed).pipe(ChipiLayers.withBearerToken(bearerToken)))),
  attachPolicy: method("sessions.attachPolicy", (params) => Effect.flatMap(argument(params, "params"), () => Policies.attach(params))),
  revokeAll: method("sessions.revokeAll", (params, bearerToken) =>
    Effect.flatMap(ownerSigned(params, ["wallet"]), (signed) => Sessions.revokeAll(signed).pipe(ChipiLayers.withBearerToken(bearerToken)))),
  resumeWallet: method("sessions.resumeWallet", (params) => Effect.flatMap(argument(params, "params"), () => Sessions.resumeWallet(params))),
  presignRevokeAll: method("sessions.presignRevokeAll", (params, options) =>
    Effect.gen(function*() {
      const signed = yield* ownerSigned(params, ["wallet"])
      const validForMs = yield* millisOf(options?.validForMs, "validForMs")
      return yield* Sessions.presignRevokeAll(signed, validForMs !== undefined ? { validFor: validForMs } : {})
    })),
  sendRevokeAll: method("sessions.sendRevokeAll", (presigned) => Sessions.sendRevokeAll(presigned)),
  getSessionData: method("getSessionData", (params) => Effect.flatMap(argument(params, "params"), () => Sessions.getSessionData(params))),
  setSpendingPolicy: method("setSpendingPolicy", (params, bearerToken) =>
    Effect.flatMap(ownerSigned(params, ["wallet", "spendingPolicyConfig"]), (signed) => Sessions.setSpendingPolicy(signed).pipe(ChipiLayers.withBearerToken(bearerToken)))),
  getSpendingPolicy: method("getSpendingPolicy", (params) => Effect.flatMap(argument(params, "params"), () => Sessions.getSpendingPolicy(params))),
  removeSpendingPolicy: method("removeSpendingPolicy", (params, bearerToken) =>
    Effect.flatMap(ownerSigned(params, ["wallet"]), (signed) => Sessions.removeSpendingPolicy(signed).pipe(ChipiLayers.withBearerToken(bearerToken)))),
  executeTransactionWithSession: method("sessions.executeTransactionWithSession", (params, bearerToken) => executeWithSession(params, bearerToken))
})

/** The client's `automations`: an automations engine on the client's services, with its own runtime. */
const automationsWith = (
  problem: InvalidInput | undefined,
  isClosed: () => boolean,
  runtime: ManagedRuntime.ManagedRuntime<ClientServices, unknown>
): Client["automations"] =>
async (options) => {
  if (problem !== undefined) throw problem
  if (isClosed()) throw new ClientClosed({ method: "automations" })
  const Automations = await import("./Automations.js")
  const services = await runtime.runtime()
  const engine = options.engine ?? Layer.merge(Automations.layerEngineMemory, Automations.layerStoreMemory)
  const automations = ManagedRuntime.make(
    Automations.layer({
      serverKey: Redacted.make(options.serverKey),
      ...(options.pollIntervalMs !== undefined ? { pollInterval: options.pollIntervalMs } : {})
    }).pipe(Layer.provide(engine as Layer.Layer<import("@effect/workflow").WorkflowEngine.WorkflowEngine | import("./Automations.js").Store>), Layer.provide(Layer.succeedContext(services.context)))
  )
  let automationsClosed = false
  const go = <A, E>(name: string, effect: Effect.Effect<A, E, any>): Promise<A> =>
    toPromise(automations, () => effect, `automations.${name}`, () => isClosed() || automationsClosed)
  return {
    start: (d) =>
      go("start", Automations.start({
        automationId: d.automationId,
        wallet: d.wallet,
        pin: Redacted.make(d.pin),
        calls: d.calls,
        schedule: "cron" in d.schedule ? d.schedule : { every: d.schedule.everyMs, times: d.schedule.times },
        ...(d.marginMs !== undefined ? { margin: d.marginMs } : {}),
        ...(d.spendingPolicy !== undefined ? { spendingPolicy: d.spendingPolicy } : {})
      })),
    status: (id) => go("status", Automations.status(id)),
    cancel: (id) => go("cancel", Automations.cancel(id)),
    awaitEnd: (id) => go("awaitEnd", Automations.awaitEnd(id)),
    close: () => {
      automationsClosed = true
      return automations.dispose()
    }
  }
}

/**
 * Creates a client. With no options, or `{ devnet }`, it runs on an embedded devnet (`client.devnet.createWallet`
 * gives wallets); with `{ rpcUrl, paymasterUrl }` or the guide's `{ apiPublicKey, apiSecretKey, baseUrl, rpcUrl }`,
 * on a real node and paymaster; with `{ layer }`, on whatever that layer provides.
 *
 * Never throws: options that are not right (an unknown or misspelt key, a missing or malformed URL) give a client
 * whose every call rejects with `InvalidInput` naming the option (and `createSessionKey`, synchronous, throws it).
 * A devnet is never the fallback of a mistyped live configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createClient = (options: ClientOptions = {}): Client => {
  const problem = optionsProblem(options)
  const kind: Kind | undefined = problem === undefined ? kindOf(Object.keys(options)) : undefined
  const given = (problem === undefined ? options : {}) as GivenOptions
  // One Crypto service for the client's life: a deterministic one keeps counting across calls.
  // Its scope (the key cache's) stays open until `close`, which wipes the cached keys.
  const cryptoScope = Effect.runSync(Scope.make())
  const crypto = Effect.runSync(Layer.buildWithScope(given.crypto ?? CryptoLayer.layer, cryptoScope)).pipe(Context.get(Crypto))
  // One ledger too, shared by the synchronous createSessionKey and the runtime: keys it creates are remembered, so
  // registering them is checked against their own validUntil.
  const ledger = Effect.runSync(Effect.provide(Sessions.Ledger, Sessions.layer))
  // Options every kind of client takes: wallets' policies and a remote signer (checked by `optionsProblem`).
  const common = (problem === undefined ? options : {}) as {
    readonly policies?: Policies.WalletPoliciesConfig
    readonly signer?: { readonly url: string; readonly apiKey: string }
  }
  const walletPolicies = common.policies === undefined ? undefined : Effect.runSync(Effect.either(Policies.make(common.policies)))
  const local = Layer.mergeAll(
    Layer.succeed(Crypto, crypto),
    Layer.succeed(Sessions.Ledger, ledger),
    walletPolicies?._tag === "Right" ? Layer.succeed(Policies.WalletPolicies, walletPolicies.right) : Layer.empty,
    common.signer === undefined ? Layer.empty : Signer.layerRemote({ url: common.signer.url, apiKey: Redacted.make(common.signer.apiKey) })
  )
  const devnetLayer = kind === "devnet" ? Devnet.layer(given.devnet) : undefined
  const runtime = ManagedRuntime.make(Layer.mergeAll(servicesOf(problem, kind, given, devnetLayer), local))
  /**
   * Every Promise method of the client is one of these: its body reads the arguments and builds the Effect inside
   * the runtime, so a method never throws synchronously; a missing or malformed argument rejects with InvalidInput
   * (check it with `argument` / `withObjects`), anything else with the typed error of the Effect.
   */
  let closed = false
  const isClosed = () => closed
  const method: Method = (name, body) => (...args) =>
    problem !== undefined ? Promise.reject(problem) : toPromise(runtime, () => body(...args), name, isClosed)

  const devnet: DevnetClient | undefined = devnetLayer === undefined ? undefined : {
    createWallet: method("createWallet", (params: Devnet.CreateWalletParams) =>
      Effect.flatMap(argument(params, "params"), () => Effect.flatMap(Devnet.Devnet, (handle) => handle.createWallet(params)))),
    handle: method("handle", () => Devnet.Devnet)
  }

  return {
    sessions: sessionsClient(method, createSessionKeyWith(problem, isClosed, crypto, local)),
    executeTransactionWithSession: method("executeTransactionWithSession", (args) =>
      Effect.flatMap(argument(args, "args"), ({ params, bearerToken }) => executeWithSession(params, bearerToken))),
    resolveExecution: method("resolveExecution", (params) =>
      Effect.gen(function*() {
        const checked = yield* argument(params, "params")
        const timeoutMs = yield* millisOf(checked["timeoutMs"], "timeoutMs")
        return yield* Sessions.resolve(
          { wallet: checked["walletAddress"] as string, idempotencyKey: checked["idempotencyKey"] as string },
          timeoutMs !== undefined ? Transactions.defaultPolling.pipe(Schedule.upTo(Duration.millis(timeoutMs))) : undefined
        )
      })),
    getTransactionStatus: method("getTransactionStatus", (args) => Effect.flatMap(txHashOf(args), (txHash) => Transactions.getStatus(txHash as string))),
    waitForTransaction: method("waitForTransaction", (args) =>
      Effect.gen(function*() {
        const txHash = yield* txHashOf(args)
        const options: { readonly timeoutMs?: unknown; readonly intervalMs?: unknown } = typeof args === "string" ? {} : args
        const timeoutMs = yield* millisOf(options.timeoutMs, "timeoutMs")
        const intervalMs = yield* millisOf(options.intervalMs, "intervalMs")
        return yield* Sessions.wait(txHash as string, {
          ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
          // Never faster than Transactions.minimumPollInterval, however small intervalMs is.
          ...(intervalMs !== undefined ? { schedule: Transactions.spaced(intervalMs) } : {})
        })
      })),
    automations: automationsWith(problem, isClosed, runtime),
    devnet,
    runtime: runtime as ManagedRuntime.ManagedRuntime<ClientServices, unknown>,
    close: () => {
      closed = true
      return runtime.dispose().finally(() => Effect.runPromise(Scope.close(cryptoScope, Exit.void)))
    }
  }
}

/**
 * The client under the name the guide's code uses for its SDK, so that code ports by changing imports only.
 *
 * @since 0.1.0
 * @category models
 */
export type ChipiServerSDK = Client
