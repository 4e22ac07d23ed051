import { getDeadLetterStats, type DeadLetterStats } from './api.ts'
import { useLive, type Loaded } from './api/live.tsx'

/** GET /v1/dead-letters/stats (the nav badge and the DLQ page), refreshed by the live stream. */
export function useDeadLetterStats(): Loaded<DeadLetterStats> {
  return useLive(['dead-letter-stats'], (signal) => getDeadLetterStats(signal))
}
