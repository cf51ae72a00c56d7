//! A run's DAG drawn as SVG: tasks in columns by depth (the longest chain of dependencies
//! before them), each coloured by its status, with an arrow from every dependency.

use askama::Template;
use common::store::engine::runs::TaskView;

const NODE_WIDTH: f64 = 160.0;
const NODE_HEIGHT: f64 = 40.0;
const COLUMN_GAP: f64 = 56.0;
const ROW_GAP: f64 = 14.0;
const MARGIN: f64 = 8.0;

/// A task's box.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    index: usize,
    x: f64,
    y: f64,
    text_x: f64,
    name_y: f64,
    status_y: f64,
    name: String,
    status: &'static str,
    attempt: u32,
    is_hook: bool,
}

/// An arrow from a dependency to its dependent.
#[derive(Debug, Clone, PartialEq)]
struct Edge {
    path: String,
}

#[derive(Template)]
#[template(path = "console/dag.svg", escape = "html")]
struct Dag {
    width: f64,
    height: f64,
    node_width: f64,
    node_height: f64,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

/// The depth of each task: 0 for a task without dependencies, else one more than its
/// deepest dependency (dependencies always come first, so one pass suffices; an index out of
/// range is ignored).
fn depths(tasks: &[TaskView]) -> Vec<usize> {
    let mut depth = vec![0usize; tasks.len()];
    for (index, task) in tasks.iter().enumerate() {
        depth[index] = task
            .depends_on
            .iter()
            .filter(|&&dep| dep < index)
            .map(|&dep| depth[dep] + 1)
            .max()
            .unwrap_or(0);
    }
    depth
}

/// Draws the tasks of a run.
pub fn draw(tasks: &[TaskView]) -> String {
    let depth = depths(tasks);
    let mut rows_used = vec![0usize; depth.iter().max().map_or(0, |max| max + 1)];
    let mut nodes = Vec::with_capacity(tasks.len());
    for (index, task) in tasks.iter().enumerate() {
        let column = depth[index];
        let row = rows_used[column];
        rows_used[column] += 1;
        let x = MARGIN + column as f64 * (NODE_WIDTH + COLUMN_GAP);
        let y = MARGIN + row as f64 * (NODE_HEIGHT + ROW_GAP);
        let mut name = task.key.clone();
        if name.chars().count() > 20 {
            name = name.chars().take(19).collect::<String>() + "…";
        }
        nodes.push(Node {
            index,
            x,
            y,
            text_x: x + 10.0,
            name_y: y + 17.0,
            status_y: y + 32.0,
            name,
            status: task.status.as_str(),
            attempt: task.attempt,
            is_hook: task.is_hook,
        });
    }
    let edges = tasks
        .iter()
        .enumerate()
        .flat_map(|(index, task)| {
            task.depends_on
                .iter()
                .filter(move |&&dep| dep < index)
                .map(move |&dep| (dep, index))
        })
        .map(|(from, to)| {
            let (a, b) = (&nodes[from], &nodes[to]);
            let (x1, y1) = (a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2.0);
            let (x2, y2) = (b.x - 4.0, b.y + NODE_HEIGHT / 2.0);
            let middle = (x1 + x2) / 2.0;
            Edge {
                path: format!("M{x1} {y1} C{middle} {y1} {middle} {y2} {x2} {y2}"),
            }
        })
        .collect();
    let columns = rows_used.len().max(1) as f64;
    let rows = rows_used.iter().copied().max().unwrap_or(1).max(1) as f64;
    Dag {
        width: MARGIN * 2.0 + columns * NODE_WIDTH + (columns - 1.0) * COLUMN_GAP,
        height: MARGIN * 2.0 + rows * NODE_HEIGHT + (rows - 1.0) * ROW_GAP,
        node_width: NODE_WIDTH,
        node_height: NODE_HEIGHT,
        nodes,
        edges,
    }
    .render()
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::engine::model::{QueueName, TaskStatus};

    fn task(key: &str, status: TaskStatus, depends_on: Vec<usize>) -> TaskView {
        TaskView {
            index: 0,
            id: key.into(),
            key: key.into(),
            status,
            attempt: 1,
            depends_on,
            queue: QueueName::parse("default").unwrap(),
            max_retries: 0,
            result: None,
            error: None,
            progress: 0,
            worker: None,
            is_hook: false,
            created_ms: 0,
            updated_ms: 0,
            started_ms: None,
            finished_ms: None,
        }
    }

    #[test]
    fn a_chain_with_a_parallel_group_is_laid_out_by_depth() {
        let tasks = vec![
            task("extract", TaskStatus::Success, vec![]),
            task("<transform>", TaskStatus::Running, vec![0]),
            task("load_b", TaskStatus::Error, vec![0]),
            task("report", TaskStatus::Pending, vec![1, 2]),
        ];
        assert_eq!(depths(&tasks), vec![0, 1, 1, 2]);
        let svg = draw(&tasks);
        assert!(svg.contains("&lt;transform&gt;") || svg.contains("&#60;transform&#62;"));
        assert!(svg.contains("class=\"node status-error\""));
        assert_eq!(svg.matches("class=\"edge\"").count(), 4);
        assert!(!svg.contains("style="));
    }
}
