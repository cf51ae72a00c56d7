//! CPU time of processes on this machine, from `/proc/PID/stat`, so a benchmark can show
//! where each request's CPU went: the server, Redis, and the load generator itself.

use std::time::Instant;

/// CPU seconds (user and system) process `pid` has used, when `/proc` tells.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100);
    Some(ticks as f64 / per_second as f64)
}

/// The CPU a set of named processes used between [`CpuMeter::start`] and
/// [`CpuMeter::per_unit`].
#[derive(Debug)]
pub struct CpuMeter {
    started: Instant,
    processes: Vec<(String, u32, f64)>,
}

impl CpuMeter {
    /// Starts measuring `processes` (name, pid).
    pub fn start(processes: &[(&str, u32)]) -> Self {
        Self {
            started: Instant::now(),
            processes: processes
                .iter()
                .map(|(name, pid)| ((*name).to_owned(), *pid, cpu_seconds(*pid).unwrap_or(0.0)))
                .collect(),
        }
    }

    /// Per process: the cores it kept busy on average, and its CPU microseconds per unit of
    /// work when `units` were done since the start.
    pub fn per_unit(&self, units: u64) -> Vec<ProcessCpu> {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        self.processes
            .iter()
            .map(|(name, pid, before)| {
                let used = cpu_seconds(*pid).unwrap_or(*before) - before;
                ProcessCpu {
                    name: name.clone(),
                    cores: used / elapsed,
                    us_per_unit: used * 1e6 / units.max(1) as f64,
                }
            })
            .collect()
    }
}

/// The CPU one process used over a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessCpu {
    /// Which process.
    pub name: String,
    /// Cores it kept busy on average.
    pub cores: f64,
    /// CPU microseconds per unit of work.
    pub us_per_unit: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_loop_shows_as_this_processs_cpu() {
        let me = std::process::id();
        let meter = CpuMeter::start(&[("self", me)]);
        let before = cpu_seconds(me).expect("/proc tells this process's CPU");
        // Spin until the kernel has counted 50 ms more of CPU, however loaded the machine.
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        let mut spin = 0u64;
        while cpu_seconds(me).unwrap() < before + 0.05 {
            assert!(
                Instant::now() < deadline,
                "no CPU counted in a minute of spinning"
            );
            for _ in 0..100_000 {
                spin = spin.wrapping_add(std::hint::black_box(1));
            }
        }
        assert!(spin > 0);
        let used = &meter.per_unit(2)[0];
        assert_eq!(used.name, "self");
        assert!(used.cores > 0.0, "{used:?}");
        // 50 ms over two units, less a rounding of the float division.
        assert!(used.us_per_unit > 24_999.0, "{used:?}");
        assert_eq!(cpu_seconds(u32::MAX), None);
    }
}
