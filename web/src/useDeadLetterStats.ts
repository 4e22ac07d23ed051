import { getDeadLetterStats, type DeadLetterStats } from './api.ts'
import { usePolling, type Polled } from './usePolling.ts'

/** How often the dead-letter queue size is refreshed. */
export const statsInterval = 5000

/** Polls GET /v1/dead-letters/stats every 5 seconds (for the nav badge and the DLQ page). */
export function useDeadLetterStats(): Polled<DeadLetterStats> {
  return usePolling('dead-letter-stats', (signal) => getDeadLetterStats(signal), { interval: statsInterval })
}
