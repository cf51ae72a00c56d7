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
    fn this_process_has_used_some_cpu_and_a_busy_loop_adds_to_it() {
        let me = std::process::id();
        let before = cpu_seconds(me).expect("/proc tells this process's CPU");
        let meter = CpuMeter::start(&[("self", me)]);
        let started = Instant::now();
        let mut spin = 0u64;
        while started.elapsed().as_millis() < 200 {
            spin = spin.wrapping_add(std::hint::black_box(1));
        }
        assert!(spin > 0);
        let after = cpu_seconds(me).unwrap();
        assert!(after >= before + 0.1, "{before} -> {after}");
        let used = &meter.per_unit(2)[0];
        assert!(used.cores > 0.3, "{used:?}");
        assert!(used.us_per_unit > 50_000.0, "{used:?}");
    }
}
