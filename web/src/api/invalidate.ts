// Which cached queries an event of the live stream makes stale. Query keys start with the
// resource name ('runs', 'run', 'gantt', ...), and invalidating a prefix covers every
// filter of it.
import type { QueryKey } from '@tanstack/react-query'
import type { StreamEvent } from './sse.ts'

/** Run events after which the run (and its Gantt data) is final or restructured. */
const runLevelKinds = new Set([
  'run_started',
  'run_succeeded',
  'run_failed',
  'run_cancelled',
  'run_paused',
  'run_resumed',
  'run_needs_attention',
  'run_priority_changed',
  'task_retried',
  'task_resubmitted',
])

/**
 * Task events the run page applies to its cached run and Gantt itself (task_started, a
 * transient hint, and the outcomes).
 */
export const taskOutcomeKinds = new Set(['task_started', 'task_succeeded', 'task_dead', 'task_attempt_failed', 'task_attempt_interrupted', 'task_skipped', 'task_cancelled'])

/** Task event kinds that change the dead-letter queue. */
const deadLetterKinds = new Set(['task_dead', 'task_resubmitted', 'dead_letter_discarded', 'run_needs_attention'])

/**
 * Returns the query key prefixes an event makes stale. Task outcomes do not list the run
 * or its Gantt: the run page patches both in place from the event (gantt.ts).
 */
export function invalidationsFor(e: StreamEvent): QueryKey[] {
  const keys: QueryKey[] = []
  const kind = e.kind
  if (e.run_id != null) {
    keys.push(['runs'])
    if (e.step) keys.push(['attempts', e.run_id, e.step])
    // A task outcome is patched into the run and its Gantt by the run page (gantt.ts);
    // anything else about a run refetches them.
    if (runLevelKinds.has(kind) || !taskOutcomeKinds.has(kind)) keys.push(['run', e.run_id], ['gantt', e.run_id])
  }
  if (deadLetterKinds.has(kind)) keys.push(['dead-letters'], ['dead-letter-stats'], ['attention'])
  if (kind.startsWith('breaker_')) keys.push(['breakers'])
  if (kind.startsWith('queue_')) keys.push(['queues'])
  if (kind.startsWith('sla_')) keys.push(['alerts'])
  return keys
}

/** A key's identity for de-duplication. */
export function keyId(k: QueryKey): string {
  return JSON.stringify(k)
}

const listKeys = new Set(['runs', 'dead-letters', 'dead-letter-stats', 'attention'])

/** Reports whether a key is a list that many events touch (refreshed less eagerly). */
export function isListKey(k: QueryKey): boolean {
  return typeof k[0] === 'string' && listKeys.has(k[0])
}
