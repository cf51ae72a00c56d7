//! The engine every front stands on: runs, tasks and jobs with their statuses, queue names,
//! periodic schedules, retry backoff and task failures.

pub mod backoff;
pub mod executor;
pub mod failure;
pub mod model;
pub mod schedule;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The modules of the fronts and of what stands on the engine: none may be imported here.
    const ABOVE_THE_ENGINE: [&str; 6] = [
        "crate::workflows",
        "crate::reports",
        "crate::releases",
        "crate::projects",
        "crate::operations",
        "crate::store",
    ];

    #[test]
    fn the_engine_imports_no_front() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
        let mut read = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            read += 1;
            // Up to its tests, which may use anything.
            let code_lines = source.lines().take_while(|line| *line != "#[cfg(test)]");
            for (number, line) in code_lines.enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                for module in ABOVE_THE_ENGINE {
                    assert!(
                        !code.contains(module),
                        "{}:{}: the engine uses {module}: {line}",
                        path.display(),
                        number + 1
                    );
                }
            }
        }
        assert!(read >= 5, "read the engine's files");
    }
}
