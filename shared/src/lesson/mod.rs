//! Guided lessons: the lesson file format, the goal vocabulary a step is checked against, and
//! the scenarios an instructor can run on a lab. Everything here is data and pure functions,
//! so the terminal runner (`etcdlab lesson`) and the browser use the same parser and checks.
//!
//! - [`catalog`]: the lessons of `lessons/`, embedded (as JSON in the wasm).
//! - [`file`]: a lesson file (YAML) parsed into [`Lesson`], with the file and line of any
//!   error (an unknown goal, a missing translation).
//! - [`goal`]: the goal vocabulary ([`Goal`]) and its evaluation against an [`Observation`].
//! - [`observation`]: what the host saw of the cluster (members, membership, key values,
//!   partition, files, TLS, alarms), and what a step's goal needs it to read.
//! - [`scenario`]: lab actions a step can run ("kill the leader"), resolved to fault requests.
//! - [`command`]: a step's command with `{leader}`/`{follower}` filled in from the cluster.
//! - [`stream`]: the Raft events since a step began, folded for the goals about change.
//! - [`simulated`]: which lessons the simulator can run, and their commands parsed for it.
//! - [`view`]: an [`Observation`] built from a [`crate::cluster_view::ClusterView`] (the
//!   simulator's events reduced), for the page's demo and `lesson verify`.
//! - `yaml_enum`: reading an enum written as a word or a one-key map.
//! - [`sample`]: the Kubernetes-like `/registry/...` data set a lesson can ask the lab to load.

pub mod catalog;
pub mod command;
pub mod file;
pub mod goal;
pub mod observation;
pub mod sample;
pub mod scenario;
pub mod simulated;
pub mod stream;
pub mod view;
mod yaml_enum;

#[cfg(not(target_arch = "wasm32"))]
pub use file::parse_lesson;
pub use file::{Focus, Language, Lesson, LessonFileError, Requirements, Step, Text};
pub use goal::{Baseline, Goal, GoalStatus, KeyScope};
pub use observation::{ListedMember, MemberState, Observation, ObservationRequest, ObservedMember};
pub use scenario::{MemberRef, ScenarioAction, ScenarioError};
pub use stream::StepEvents;
