/**
 * The Promise client: the guide's calls and argument shapes, for plain Node code. A thin layer over a
 * `ManagedRuntime`; failures reject with the typed error classes themselves, so `e instanceof Expired` works.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import * as ChipiLayers from "./Chipi.js"
import { Crypto } from "./Crypto.js"
import { InvalidInput } from "./Errors.js"
import * as CryptoLayer from "./Crypto.js"
import * as Devnet from "./Devnet.js"
import type { Paymaster } from "./Paymaster.js"
import * as PaymasterLayers from "./Paymaster.js"
import type { SessionData, SessionKeyData, TransactionStatus, WalletData } from "./Schemas.js"
import * as Sessions from "./Sessions.js"
import type { Receipt, StarknetRpc } from "./StarknetRpc.js"
import * as StarknetRpcLayers from "./StarknetRpc.js"
import * as Transactions from "./Transactions.js"

export { STARKNET_CONTRACTS } from "./Constants.js"
export * from "./Errors.js"

/**
 * The services a client runs on.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientServices = Crypto | Paymaster | StarknetRpc | Sessions.Ledger

/**
 * Options of `createClient`. With none, the client runs on an embedded devnet (`client.devnet`).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientOptions =
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
  }
  | {
    /** A Starknet JSON-RPC node and a SNIP-29 paymaster. */
    readonly rpcUrl: string
    readonly paymasterUrl: string
    readonly paymasterApiKey?: string | undefined
  }
  | {
    /** Any layer providing `StarknetRpc` and `Paymaster` (and optionally `Crypto`). */
    readonly layer: Layer.Layer<Paymaster | StarknetRpc, unknown>
    readonly crypto?: Layer.Layer<Crypto>
  }

type Wallet = { readonly publicKey: string; readonly encryptedPrivateKey: string }
type Session = { readonly publicKey: string; readonly encryptedPrivateKey: string; readonly validUntil: number }
type CallInput = { readonly contractAddress: string; readonly entrypoint: string; readonly calldata?: ReadonlyArray<string | number | bigint> }

/**
 * The client, shaped as the guide's SDK.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly sessions: {
    /** Synchronous, as in the guide: a key pair with the private key encrypted under the PIN. */
    readonly createSessionKey: (params: { readonly encryptKey: string; readonly durationSeconds?: number }) => SessionKeyData
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
  }
  readonly executeTransactionWithSession: (args: {
    readonly params: {
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
  }) => Promise<string>
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
 * @since 0.2.0
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
 * @since 0.2.0
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

/** Runs an effect and rejects with its typed error itself (not a wrapper), so `instanceof` works. */
const toPromise = <A, E>(runtime: ManagedRuntime.ManagedRuntime<any, any>, effect: Effect.Effect<A, E, any>): Promise<A> =>
  runtime.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

/**
 * Creates a client. With no options it runs on an embedded devnet (`client.devnet.createWallet` gives wallets);
 * with `{ layer }`, on whatever that layer provides.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createClient = (options: ClientOptions = {}): Client => {
  // One Crypto service for the client's life: a deterministic one keeps counting across calls.
  // Its scope (the key cache's) stays open until `close`, which wipes the cached keys.
  const cryptoScope = Effect.runSync(Scope.make())
  const crypto = Effect.runSync(
    Layer.buildWithScope("layer" in options ? options.crypto ?? CryptoLayer.layer : CryptoLayer.layer, cryptoScope)
  ).pipe(Context.get(Crypto))
  // One ledger too, shared by the synchronous createSessionKey and the runtime: keys it creates are remembered, so
  // registering them is checked against their own validUntil.
  const ledger = Effect.runSync(Effect.provide(Sessions.Ledger, Sessions.layer))
  const local = Layer.mergeAll(Layer.succeed(Crypto, crypto), Layer.succeed(Sessions.Ledger, ledger))
  const live = "layer" in options || "rpcUrl" in options || "apiPublicKey" in options
  const devnetLayer = live ? undefined : Devnet.layer((options as { readonly devnet?: Devnet.DevnetOptions }).devnet)
  const rpcUrl = "apiPublicKey" in options ? options.rpcUrl ?? process.env["STARKNET_RPC_URL"] : "rpcUrl" in options ? options.rpcUrl : undefined
  if (live && !("layer" in options)) {
    // A missing or malformed setting is an error naming it, before any request.
    const checks: ReadonlyArray<readonly [string, string | undefined]> = [
      ["rpcUrl (or STARKNET_RPC_URL)", rpcUrl],
      ...("paymasterUrl" in options ? [["paymasterUrl", options.paymasterUrl] as const] : []),
      ...("apiPublicKey" in options && options.baseUrl !== undefined ? [["baseUrl", options.baseUrl] as const] : [])
    ]
    for (const [name, value] of checks) {
      if (value === undefined || !URL.canParse(value)) {
        const rule = value === undefined ? "is required" : "must be a URL"
        throw new InvalidInput({ path: name, rule, issues: [{ path: name, rule }] })
      }
    }
    if ("apiPublicKey" in options && (options.apiPublicKey === "" || options.apiSecretKey === "")) {
      const rule = "apiPublicKey and apiSecretKey are required"
      throw new InvalidInput({ path: "apiPublicKey", rule, issues: [{ path: "apiPublicKey", rule }] })
    }
  }
  const services: Layer.Layer<Paymaster | StarknetRpc | Devnet.Devnet, unknown> | Layer.Layer<Paymaster | StarknetRpc, unknown> =
    "apiPublicKey" in options
      ? Layer.merge(
        StarknetRpcLayers.layerHttp({ url: rpcUrl! }),
        ChipiLayers.layer({
          apiPublicKey: Redacted.make(options.apiPublicKey),
          apiSecretKey: Redacted.make(options.apiSecretKey),
          ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {})
        })
      )
      : "rpcUrl" in options
      ? Layer.merge(
        StarknetRpcLayers.layerHttp({ url: options.rpcUrl }),
        PaymasterLayers.layerSnip29({
          url: options.paymasterUrl,
          ...(options.paymasterApiKey !== undefined ? { apiKey: Redacted.make(options.paymasterApiKey) } : {})
        })
      )
      : devnetLayer ?? (options as { layer: Layer.Layer<Paymaster | StarknetRpc, unknown> }).layer
  const runtime = ManagedRuntime.make(Layer.mergeAll(services, local))
  const run = <A, E>(effect: Effect.Effect<A, E, any>) => toPromise(runtime, effect)
  const pin = (text: string) => Redacted.make(text)

  const devnet: DevnetClient | undefined = devnetLayer === undefined ? undefined : {
    createWallet: (params) => run(Effect.flatMap(Devnet.Devnet, (handle) => handle.createWallet(params))),
    handle: () => run(Devnet.Devnet)
  }

  return {
    sessions: {
      createSessionKey: (params) => {
        const exit = Effect.runSyncExit(
          Sessions.createSessionKey({
            encryptKey: pin(params.encryptKey),
            ...(params.durationSeconds !== undefined ? { durationSeconds: params.durationSeconds } : {})
          }).pipe(
            // The guide's createSessionKey returns at once: its scrypt runs on the calling thread.
            Effect.provideService(Crypto, CryptoLayer.withSynchronousEncryption(crypto)),
            Effect.provide(local)
          )
        )
        if (Exit.isSuccess(exit)) return exit.value
        throw Cause.squash(exit.cause)
      },
      addSessionKeyToContract: (params, bearerToken) =>
        run(Sessions.register({ ...params, encryptKey: pin(params.encryptKey) }).pipe(ChipiLayers.withBearerToken(bearerToken))),
      revokeSessionKey: (params, bearerToken) =>
        run(Sessions.revoke({ ...params, encryptKey: pin(params.encryptKey) }).pipe(ChipiLayers.withBearerToken(bearerToken))),
      getSessionData: (params) => run(Sessions.getSessionData(params))
    },
    executeTransactionWithSession: ({ params }) =>
      run(Sessions.execute(
        { ...params, encryptKey: pin(params.encryptKey) },
        params.idempotencyKey !== undefined ? { idempotencyKey: params.idempotencyKey } : {}
      )),
    getTransactionStatus: (args) => run(Transactions.getStatus(typeof args === "string" ? args : args.txHash)),
    waitForTransaction: (args) => {
      const { txHash, timeoutMs, intervalMs } = typeof args === "string" ? { txHash: args, timeoutMs: undefined, intervalMs: undefined } : args
      return run(
        Sessions.wait(txHash, {
          ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
          ...(intervalMs !== undefined ? { schedule: Transactions.spaced(intervalMs) } : {})
        })
      )
    },
    automations: async (options) => {
      const Automations = await import("./Automations.js")
      const services = await runtime.runtime()
      const engine = options.engine ?? Layer.merge(Automations.layerEngineMemory, Automations.layerStoreMemory)
      const automations = ManagedRuntime.make(
        Automations.layer({
          serverKey: Redacted.make(options.serverKey),
          ...(options.pollIntervalMs !== undefined ? { pollInterval: options.pollIntervalMs } : {})
        }).pipe(Layer.provide(engine as Layer.Layer<import("@effect/workflow").WorkflowEngine.WorkflowEngine | import("./Automations.js").Store>), Layer.provide(Layer.succeedContext(services.context)))
      )
      const go = <A, E>(effect: Effect.Effect<A, E, any>) => toPromise(automations, effect)
      return {
        start: (d) =>
          go(Automations.start({
            automationId: d.automationId,
            wallet: d.wallet,
            pin: pin(d.pin),
            calls: d.calls,
            schedule: "cron" in d.schedule ? d.schedule : { every: d.schedule.everyMs, times: d.schedule.times },
            ...(d.marginMs !== undefined ? { margin: d.marginMs } : {})
          })),
        status: (id) => go(Automations.status(id)),
        cancel: (id) => go(Automations.cancel(id)),
        awaitEnd: (id) => go(Automations.awaitEnd(id)),
        close: () => automations.dispose()
      }
    },
    devnet,
    runtime: runtime as ManagedRuntime.ManagedRuntime<ClientServices, unknown>,
    close: () => runtime.dispose().finally(() => Effect.runPromise(Scope.close(cryptoScope, Exit.void)))
  }
}

/**
 * The client under the name the guide's code uses for its SDK, so that code ports by changing imports only.
 *
 * @since 0.1.0
 * @category models
 */
export type ChipiServerSDK = Client
