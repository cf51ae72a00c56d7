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
