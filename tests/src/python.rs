//! Running Python snippets, as the compatibility tests drive the API with real Python clients
//! (`httpsig`, `requests`, `orderlyweb-api`, `openapi-spec-validator`: `scripts/test`
//! installs them).

use std::process::Output;

/// Runs `script` with `python3` and `args` (its `sys.argv[1:]`) without blocking the test's
/// runtime, and returns what it printed (stdout, then stderr).
///
/// Panics, with that output, when the script fails or `python3` cannot run.
pub async fn python(script: &str, args: &[&str]) -> String {
    let output = python_output(script, args).await;
    let text = output_text(&output);
    assert!(output.status.success(), "the Python script failed: {text}");
    text
}

/// Runs `script` like [`python`] and returns its status and output whatever they are.
///
/// Panics only when the script cannot be written or `python3` cannot run.
pub async fn python_output(script: &str, args: &[&str]) -> Output {
    let dir = tempfile::Builder::new()
        .prefix("baton-python-")
        .tempdir()
        .expect("cannot create a temporary directory for the script");
    let path = dir.path().join("script.py");
    std::fs::write(&path, script).expect("cannot write the script");
    tokio::process::Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .await
        .expect("python3 runs (install it, with `scripts/test`'s packages)")
}

/// An output's stdout followed by its stderr, as text.
pub fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn arguments_reach_the_script_and_output_comes_back() {
        let text = python(
            "import sys\nprint('-'.join(sys.argv[1:]))\nsys.stderr.write('err')\n",
            &["a", "b c"],
        )
        .await;
        assert_eq!(text, "a-b c\nerr");
    }

    #[tokio::test]
    async fn a_failing_script_keeps_its_status() {
        let output = python_output("import sys\nsys.exit(3)\n", &[]).await;
        assert_eq!(output.status.code(), Some(3));
    }
}
