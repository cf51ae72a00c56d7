//! Workflow definitions in Celery Director's YAML format.

pub mod definition;
pub mod director;
