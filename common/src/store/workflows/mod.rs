//! Workflow definitions as stored.
//!
//! - [`definitions`]: workflow definitions and the slots their periodic schedules fired.
//! - [`definition_sets`]: the definitions every API server publishes, as one versioned set.

pub mod definition_sets;
pub mod definitions;
