/**
 * The devnet's profiles: `instant` (the default, for unit tests: every transaction visible at once, `latest` the
 * block just closed, errors in SNIP-29's nested form) and `network`, the real network as measured in 2026 (shared
 * spec "The real network in 2026", items 1 to 5): `latest` lagging the closed block, a paymaster-submitted hash
 * unknown to the node until it is pre-confirmed, AVNU's 30 s duplicate filter, its error shapes and its windows.
 * Each behaviour is an option of its own; a profile only chooses their defaults.
 */
import { Duration } from "effect"
import type { DevnetOptions } from "./types.js"

/** The options a profile decides, resolved (durations in milliseconds). */
export interface Settings {
  readonly profile: "instant" | "network"
  readonly latestLagMillis: number
  readonly submissionHiddenMillis: number
  readonly candidateMillis: number
  readonly duplicateFilterMillis: number
  readonly paymasterErrors: "snip29" | "avnu"
  readonly timeBounds: "devnet" | "avnu"
}

/** What the `network` profile turns on, as measured (docs.starknet.io chain-info 2026, pathfinder #2926, AVNU). */
export const NETWORK_DEFAULTS = {
  /** Nodes keep serving block N−1 as `latest` for 1.5–2 s after N closes. */
  latestLag: "1500 millis",
  /** PRE_CONFIRMED appears ~0.5 s after submission; until then another node answers 29. */
  submissionHidden: "500 millis",
  candidateFor: "0 millis",
  /** avnu-labs/paymaster: the same (user, nonce) within 30 s is "Tx already sent". */
  duplicateFilter: "30 seconds",
  paymasterErrors: "avnu",
  timeBounds: "avnu"
} as const

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Math.max(0, Duration.toMillis(Duration.decode(d ?? fallback)))

export const resolve = (options: DevnetOptions): Settings => {
  const network = options.profile === "network"
  return {
    profile: network ? "network" : "instant",
    latestLagMillis: millis(options.latestLag, network ? NETWORK_DEFAULTS.latestLag : 0),
    submissionHiddenMillis: millis(options.submissionHidden, network ? NETWORK_DEFAULTS.submissionHidden : 0),
    candidateMillis: millis(options.candidateFor, network ? NETWORK_DEFAULTS.candidateFor : 0),
    duplicateFilterMillis: millis(options.duplicateFilter, network ? NETWORK_DEFAULTS.duplicateFilter : 0),
    paymasterErrors: options.paymasterErrors ?? (network ? NETWORK_DEFAULTS.paymasterErrors : "snip29"),
    timeBounds: options.timeBounds ?? (network ? NETWORK_DEFAULTS.timeBounds : "devnet")
  }
}
