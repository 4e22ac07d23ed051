import { api, unwrap } from '../api/client.ts'
import { useLive } from '../api/live.tsx'
import { QueryView } from '../components/States.tsx'
import { formatTime } from '../format.ts'
import { useTitle } from '../useTitle.ts'

/** How often the nodes list is reloaded: heartbeats (every 5 s) are not stream events. */
const heartbeatRefresh = 5000

/** Worker nodes: /nodes (capacity, use, heartbeat). */
export function NodesPage() {
  useTitle('Nodes')
  const q = useLive(['nodes'], (signal) => unwrap(api.GET('/v1/nodes', { signal })), { refetchInterval: heartbeatRefresh })
  return (
    <section>
      <div className="page-head">
        <h1>Nodes</h1>
      </div>
      <QueryView {...q} isEmpty={(d) => !d.nodes?.length} empty="No worker node has sent a heartbeat yet.">
        {(d) => (
          <table className="table">
            <thead>
              <tr>
                <th>Node</th>
                <th>Alive</th>
                <th className="num">Running / slots</th>
                <th>CPU (millis)</th>
                <th>Memory (MB)</th>
                <th>Disk (MB)</th>
                <th>Heartbeat</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {(d.nodes ?? []).map((n) => (
                <tr key={n.name}>
                  <td>
                    <code>{n.name}</code>
                  </td>
                  <td>{n.alive ? <span className="badge badge-succeeded">alive</span> : <span className="badge badge-dead">gone</span>}</td>
                  <td className="num">
                    {n.running}/{n.slots}
                  </td>
                  <td>
                    <Use used={n.reserved.cpu_millis} cap={n.capacity.cpu_millis} />
                  </td>
                  <td>
                    <Use used={n.reserved.memory_mb} cap={n.capacity.memory_mb} />
                  </td>
                  <td>
                    <Use used={n.reserved.disk_mb} cap={n.capacity.disk_mb} />
                  </td>
                  <td>{formatTime(n.heartbeat_at)}</td>
                  <td>{formatTime(n.started_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </section>
  )
}

function Use({ used, cap }: { used: number; cap: number }) {
  if (!cap) return <span className="muted">{used} / unlimited</span>
  const pct = Math.min(100, Math.round((used / cap) * 100))
  return (
    <span className="rate">
      <span className="rate-track">
        <span className={`rate-fill${pct > 90 ? ' over' : ''}`} style={{ width: `${pct}%` }} />
      </span>{' '}
      {used}/{cap}
    </span>
  )
}
