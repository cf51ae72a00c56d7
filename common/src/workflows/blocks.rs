//! The task blocks of a workflow's `tasks`: chains (items in order), groups (members in
//! parallel, with fan-out and fan-in) and chains nested in groups, compiled to tasks and their
//! dependencies.

use std::collections::BTreeMap;

use serde_json::json;
use serde_yaml::Value as Yaml;

use super::yaml::{check_keys, check_task_name, describe};
use crate::engine::model::{QueueName, TaskSpec};

/// Builds the tasks of one workflow while walking its `tasks`.
pub(super) struct Compiler<'a> {
    /// The tasks so far, in dependency order.
    pub(super) tasks: Vec<TaskSpec>,
    /// The queue of each task name that has its own.
    pub(super) custom_queues: &'a BTreeMap<String, QueueName>,
}

impl Compiler<'_> {
    /// Adds the task `name`, run by the handler of that name until an executor says
    /// otherwise. Returns its index.
    pub(super) fn task(
        &mut self,
        name: &str,
        depends_on: Vec<usize>,
        is_hook: bool,
    ) -> Result<usize, String> {
        check_task_name(name)?;
        self.tasks.push(TaskSpec {
            key: name.to_owned(),
            executor: json!({"type": "handler", "name": name}),
            depends_on,
            queue: self.custom_queues.get(name).cloned(),
            max_retries: 0,
            timeout_secs: None,
            is_hook,
        });
        Ok(self.tasks.len() - 1)
    }

    /// A chain: each item waits for the last tasks of the one before, the first for `deps`.
    /// Returns the chain's last tasks.
    pub(super) fn chain(
        &mut self,
        items: &[Yaml],
        deps: Vec<usize>,
        top_level: bool,
    ) -> Result<Vec<usize>, String> {
        let mut last = deps;
        for item in items {
            last = self.item(item, last, top_level)?;
        }
        Ok(last)
    }

    /// One item waiting for `deps`: a task name, a group, or (inside a group) a chain.
    /// Returns its last tasks.
    fn item(
        &mut self,
        item: &Yaml,
        deps: Vec<usize>,
        top_level: bool,
    ) -> Result<Vec<usize>, String> {
        match item {
            Yaml::String(name) => Ok(vec![self.task(name, deps, false)?]),
            Yaml::Sequence(_) if top_level => Err(
                "a list among the workflow's tasks: they already run in order; \
                 to run tasks in parallel, use a group {NAME: {type: group, tasks: [...]}}"
                    .into(),
            ),
            Yaml::Sequence(chain) if chain.is_empty() => {
                Err("an empty list (chain) inside a group".into())
            }
            Yaml::Sequence(chain) => self.chain(chain, deps, false),
            Yaml::Mapping(group) if group.len() == 1 => {
                let (name, body) = group.iter().next().ok_or("an empty group")?;
                self.group(name, body, deps)
            }
            Yaml::Mapping(_) => Err(
                "a group is a mapping with a single key: {NAME: {type: group, tasks: [...]}}"
                    .into(),
            ),
            other => Err(format!(
                "a task must be a name or a group, not {}",
                describe(other)
            )),
        }
    }

    /// A group: every member waits for `deps`; returns the last tasks of all members.
    fn group(&mut self, name: &Yaml, body: &Yaml, deps: Vec<usize>) -> Result<Vec<usize>, String> {
        let Some(name) = name.as_str() else {
            return Err(format!(
                "a group's name must be a string, not {}",
                describe(name)
            ));
        };
        let Yaml::Mapping(body) = body else {
            return Err(format!(
                "'{name}' must be a group {{type: group, tasks: [...]}}, not {}",
                describe(body)
            ));
        };
        match body.get("type") {
            Some(Yaml::String(kind)) if kind == "group" => {}
            Some(Yaml::String(kind)) => {
                return Err(format!(
                    "'{name}' has the unknown type '{kind}': only 'group' is known"
                ));
            }
            Some(other) => {
                return Err(format!(
                    "'{name}' has a type that is {}: only 'group' is known",
                    describe(other)
                ));
            }
            None => return Err(format!("'{name}' has no type: write 'type: group'")),
        }
        check_keys(body, &["type", "tasks"], &format!("group '{name}'"))?;
        let members = match body.get("tasks") {
            Some(Yaml::Sequence(members)) if !members.is_empty() => members,
            None | Some(Yaml::Null) | Some(Yaml::Sequence(_)) => {
                return Err(format!("group '{name}' has no tasks"));
            }
            Some(other) => {
                return Err(format!(
                    "group '{name}': 'tasks' must be a list, not {}",
                    describe(other)
                ));
            }
        };
        let mut last = Vec::new();
        for member in members {
            last.extend(self.item(member, deps.clone(), false)?);
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::workflows::tests::{deps, keys, load};

    #[test]
    fn groups_fan_out_and_in_and_nest_chains_and_groups() {
        let workflows = load(
            "p.W:\n  tasks:\n    - A\n    - G:\n        type: group\n        tasks:\n          - [B, C]\n          - D\n          - INNER:\n              type: group\n              tasks: [E, [F, H]]\n    - Z\n",
        )
        .unwrap();
        let w = &workflows[0];
        assert_eq!(keys(w), ["A", "B", "C", "D", "E", "F", "H", "Z"]);
        assert_eq!(
            deps(w),
            vec![
                vec![],           // A
                vec![0],          // B: fan-out from A
                vec![1],          // C after B
                vec![0],          // D
                vec![0],          // E
                vec![0],          // F
                vec![5],          // H after F
                vec![2, 3, 4, 6], // Z: fan-in of every member's last task
            ]
        );
        assert!(w.definition.run_spec(json!({})).validate().is_ok());
    }
}
