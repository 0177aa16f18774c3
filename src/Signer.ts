/**
 * The signer seam: where a session's payment is signed. Without a `Signer` in the context the library signs in
 * process, as it always has (it decrypts the session key with the PIN, signs, wipes the key). With one, it never
 * decrypts the session key: it hands the signer the payment's typed data, its calls and the hash it computed, and the
 * signer answers the signature. `layerRemote` is the client of the reference remote signer
 * (`starknet-session-keys/signer`), which holds the encrypted keys, evaluates the same policies on the calls, and
 * signs only the hash it derives itself from the typed data and calls.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Redacted, Schema } from "effect"
import type { Signature } from "./Crypto.js"
import { PolicyViolation, SignerError, WalletHalted } from "./Errors.js"
import { OutsideExecutionTypedData } from "./OutsideExecution.js"
import { Address, Call, Felt } from "./Schemas.js"

/**
 * What a session's payment asks the signer to sign. Serialisable (`Schema.encode(SignSessionRequest)`): the wire body
 * of the remote signer.
 *
 * @since 0.1.0
 * @category models
 */
export const SignSessionRequest = Schema.Struct({
  wallet: Address,
  sessionPublicKey: Felt,
  typedData: OutsideExecutionTypedData,
  calls: Schema.Array(Call),
  /** The hash the library computed: the signer signs only when it derives this same hash from the typed data. */
  hash: Felt
}).annotations({ identifier: "SignSessionRequest" })
/** @since 0.1.0 */
export type SignSessionRequest = typeof SignSessionRequest.Type

/**
 * The signer's answer: the ECDSA signature of the hash by the session key.
 *
 * @since 0.1.0
 * @category models
 */
export const SignatureAnswer = Schema.Struct({ r: Felt, s: Felt }).annotations({ identifier: "SignatureAnswer" })

/**
 * The signer service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Signer extends Context.Tag("starknet-session-keys/Signer")<
  Signer,
  {
    /** Signs a session's payment with the session key it holds. */
    readonly signSession: (request: SignSessionRequest) => Effect.Effect<Signature, SignerError | PolicyViolation | WalletHalted>
  }
>() {}

const encodeRequest = Schema.encodeSync(SignSessionRequest)
const decodeAnswer = Schema.decodeUnknown(SignatureAnswer)
const Refusal = Schema.Union(PolicyViolation, WalletHalted, SignerError)
const decodeRefusal = Schema.decodeUnknown(Refusal)

/**
 * A client of the reference remote signer at `url` (`starknet-session-keys/signer`), authenticated with `apiKey`.
 * A refusal by its policies is the `PolicyViolation` it names; every other failure is `SignerError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRemote = (options: {
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  /** How long one request may take (default 10 seconds). */
  readonly timeout?: Duration.DurationInput
}): Layer.Layer<Signer> =>
  Layer.succeed(
    Signer,
    Signer.of({
      signSession: (request) =>
        Effect.gen(function*() {
          const response = yield* Effect.tryPromise({
            try: (signal) =>
              fetch(new URL("/v1/sign-session", options.url), {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${Redacted.value(options.apiKey)}` },
                body: JSON.stringify(encodeRequest(request)),
                signal
              }),
            catch: (error) => new SignerError({ reason: "unreachable", detail: error instanceof Error ? error.message : String(error) })
          }).pipe(
            Effect.timeoutFail({
              duration: options.timeout ?? Duration.seconds(10),
              onTimeout: () => new SignerError({ reason: "unreachable", detail: "no answer in time" })
            })
          )
          const body = yield* Effect.tryPromise({
            try: () => response.json() as Promise<unknown>,
            catch: () => new SignerError({ reason: "invalid-answer", detail: "the answer is not JSON", status: response.status })
          })
          if (response.ok) {
            return yield* decodeAnswer(body).pipe(
              Effect.mapError(() => new SignerError({ reason: "invalid-answer", detail: "the answer is not { r, s }", status: response.status }))
            )
          }
          const refusal = yield* decodeRefusal(body).pipe(
            Effect.mapError(() => new SignerError({ reason: "invalid-answer", detail: "an unreadable refusal", status: response.status }))
          )
          return yield* Effect.fail(refusal._tag === "SignerError" && refusal.status === undefined ? new SignerError({ ...refusal, status: response.status }) : refusal)
        }).pipe(Effect.withSpan("Signer.signSession", { attributes: { wallet: request.wallet, sessionPublicKey: request.sessionPublicKey } }))
    })
  )
