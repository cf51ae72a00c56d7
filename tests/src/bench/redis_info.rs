//! The bench's view of its Redis server: sections of `INFO` (CPU time, memory) and deleting
//! everything under a key prefix.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;

use super::BenchResult;

/// One section of `INFO`, as `field → value`.
pub async fn info(
    conn: &mut MultiplexedConnection,
    section: &str,
) -> BenchResult<HashMap<String, String>> {
    let text: String = redis::cmd("INFO").arg(section).query_async(conn).await?;
    Ok(parse_info(&text))
}

/// `INFO` text as `field → value` (section headers and blank lines dropped).
fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect()
}

/// CPU seconds (`used_cpu_user` + `used_cpu_sys`) the server has used since it started.
pub async fn cpu_secs(conn: &mut MultiplexedConnection) -> BenchResult<f64> {
    let cpu = info(conn, "cpu").await?;
    let field = |name: &str| {
        cpu.get(name)
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok(field("used_cpu_user") + field("used_cpu_sys"))
}

/// Bytes the server's allocator holds for data (`used_memory`).
pub async fn used_memory(conn: &mut MultiplexedConnection) -> BenchResult<u64> {
    let memory = info(conn, "memory").await?;
    Ok(memory
        .get("used_memory")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0))
}

/// The server's version (`redis_version`), or `?`.
pub async fn server_version(conn: &mut MultiplexedConnection) -> BenchResult<String> {
    let server = info(conn, "server").await?;
    Ok(server
        .get("redis_version")
        .cloned()
        .unwrap_or_else(|| "?".to_owned()))
}

/// Empties the whole server at once (`FLUSHALL SYNC`): only for the bench's own server.
pub async fn flush_all(conn: &mut MultiplexedConnection) -> BenchResult<()> {
    redis::cmd("FLUSHALL")
        .arg("SYNC")
        .query_async::<()>(conn)
        .await?;
    Ok(())
}

/// Calls and microseconds of one command, from `INFO commandstats`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommandCost {
    /// Times the command ran (inside scripts too).
    pub calls: u64,
    /// Microseconds it took in all (a script's include the commands it called).
    pub usec: u64,
}

/// `INFO commandstats` as `command → cost` (`evalsha`, `xadd`, `xinfo|groups`, ...).
pub async fn command_costs(
    conn: &mut MultiplexedConnection,
) -> BenchResult<HashMap<String, CommandCost>> {
    Ok(parse_command_costs(&info(conn, "commandstats").await?))
}

fn parse_command_costs(fields: &HashMap<String, String>) -> HashMap<String, CommandCost> {
    fields
        .iter()
        .filter_map(|(name, value)| {
            let command = name.strip_prefix("cmdstat_")?;
            let number = |key: &str| {
                value
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
                    .unwrap_or(0)
            };
            let cost = CommandCost {
                calls: number("calls"),
                usec: number("usec"),
            };
            Some((command.to_owned(), cost))
        })
        .collect()
}

/// What each command cost per job between two `command_costs` readings, most expensive
/// first, as lines `command  calls/job  µs/job`.
pub fn profile_lines(
    before: &HashMap<String, CommandCost>,
    after: &HashMap<String, CommandCost>,
    jobs: u64,
) -> Vec<String> {
    let per_job = |value: u64| value as f64 / jobs.max(1) as f64;
    let mut rows: Vec<(String, f64, f64)> = after
        .iter()
        .filter_map(|(name, cost)| {
            let old = before.get(name).copied().unwrap_or_default();
            let calls = cost.calls.saturating_sub(old.calls);
            (calls > 0).then(|| {
                let usec = cost.usec.saturating_sub(old.usec);
                (name.clone(), per_job(calls), per_job(usec))
            })
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    rows.into_iter()
        .map(|(name, calls, usec)| format!("{name:<16} {calls:>8.3} calls/job {usec:>8.2} us/job"))
        .collect()
}

/// Deletes every key under `prefix` (`prefix:*`) with `SCAN` and `UNLINK`; returns how many.
pub async fn delete_prefix(conn: &mut MultiplexedConnection, prefix: &str) -> BenchResult<u64> {
    let mut cursor: u64 = 0;
    let mut removed = 0;
    // A bounded number of rounds: SCAN ends when the cursor comes back to 0.
    for _ in 0..1_000_000 {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            removed += redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<u64>(conn)
                .await?;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_become_costs() {
        let fields = parse_info(
            "# Commandstats\r\ncmdstat_xadd:calls=4,usec=10,usec_per_call=2.50,rejected_calls=0\r\n",
        );
        let costs = parse_command_costs(&fields);
        assert_eq!(costs["xadd"], CommandCost { calls: 4, usec: 10 });
        let before = HashMap::from([("xadd".to_owned(), CommandCost { calls: 2, usec: 4 })]);
        assert_eq!(
            profile_lines(&before, &costs, 2),
            vec![format!(
                "{:<16} {:>8.3} calls/job {:>8.2} us/job",
                "xadd", 1.0, 3.0
            )]
        );
    }

    #[test]
    fn info_text_becomes_fields() {
        let fields = parse_info("# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\n\r\n");
        assert_eq!(fields.get("used_cpu_sys").map(String::as_str), Some("1.5"));
        assert_eq!(
            fields.get("used_cpu_user").map(String::as_str),
            Some("2.25")
        );
        assert_eq!(fields.len(), 2);
    }
}
