//! A step's command as the student sees it: the text of the lesson file, with placeholders
//! filled in from the cluster now — `{leader}` and `{follower}` become member names
//! (`etcdlab lab kill {leader}`), `{id:m4}` the hex id `member list` shows for m4.

use super::observation::Observation;
use super::scenario::{MemberRef, ScenarioError};

/// The command with its placeholders filled in from the cluster as observed.
pub fn fill_placeholders(
    command: &str,
    observation: &Observation,
) -> Result<String, ScenarioError> {
    let mut filled = command.to_string();
    for (placeholder, member) in [
        ("{leader}", MemberRef::Leader),
        ("{follower}", MemberRef::Follower),
    ] {
        if filled.contains(placeholder) {
            filled = filled.replace(placeholder, &member.resolve(observation)?);
        }
    }
    while let Some(start) = filled.find("{id:") {
        let Some(length) = filled[start..].find('}') else {
            break;
        };
        let name = &filled[start + 4..start + length];
        let id = observation
            .membership
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.id.clone())
            .ok_or_else(|| ScenarioError::NotAMember(name.to_string()))?;
        filled.replace_range(start..start + length + 1, &id);
    }
    Ok(filled)
}
