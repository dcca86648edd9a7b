//! Deterministic simulation: the built-in scenarios do what they show, a seed replays the
//! same run bit for bit, and random fault schedules keep Raft's safety properties and
//! linearizable client histories.
//!
//! `ETCDLAB_SIM_SEEDS=1000` runs more random schedules (default 100, 8 in a debug build),
//! `ETCDLAB_SIM_SEED=n` replays one, `ETCDLAB_SIM_OPS` sets the steps per schedule (200).

use etcdlab_core::events::{EventKind, RaftEvent, Role};
use etcdlab_core::sim::linearizability::{Verdict, check};
use etcdlab_core::sim::scenario::{self, Scenario};
use etcdlab_core::sim::{ClientOp, Outcome, SimConfig, Simulator};

const CHECK_BUDGET: u64 = 2_000_000;

fn builtin(name: &str) -> Scenario {
    scenario::builtin()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// Plays `scenario`, checks safety and linearizability, returns the simulator, its events and
/// the outcomes in request order.
fn play(scenario: &Scenario, seed: u64) -> (Simulator, Vec<RaftEvent>, Vec<Outcome>) {
    let mut sim = Simulator::new(scenario.config.clone(), seed);
    sim.play(scenario).unwrap();
    assert_eq!(sim.violation(), None, "{}", scenario.name);
    let verdict = check(&sim.history().operations(), CHECK_BUDGET);
    assert_eq!(
        verdict,
        Verdict::Linearizable,
        "{} (seed {seed})",
        scenario.name
    );
    let events = sim.take_events();
    let mut results = sim.take_results();
    results.sort_by_key(|(id, _)| *id);
    (sim, events, results.into_iter().map(|(_, o)| o).collect())
}

fn leaders(events: &[RaftEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::RoleChanged {
                    role: Role::Leader,
                    ..
                }
            )
        })
        .map(|e| (e.term, e.node.clone()))
        .collect()
}

#[test]
fn the_same_seed_replays_the_same_events() {
    let run = |seed| {
        let s = scenario::random(seed, 60);
        let mut sim = Simulator::new(s.config.clone(), seed);
        for step in &s.steps {
            let _ = sim.apply(step);
        }
        (sim.take_events(), sim.take_results())
    };
    let (a, b) = (run(7), run(7));
    assert!(a.0.len() > 1_000, "{} events", a.0.len());
    assert!(a == b, "seed 7 ran differently twice");
    assert!(run(8).0 != a.0, "seeds 7 and 8 ran the same");
    // Timestamps are virtual time: the run lasts as long as its waits, not the machine's.
    assert!(a.0.iter().all(|e| e.ts_ms < 1_000_000));
}

#[test]
fn normal_replication() {
    let (sim, _, results) = play(&builtin("normal_replication"), 1);
    assert_eq!(
        &results[..3],
        &[Outcome::Done, Outcome::Done, Outcome::Done]
    );
    assert_eq!(results[3], Outcome::Value(Some("v1".into())));
    assert_all_applied_equally(&sim);
}

#[test]
fn leader_crash() {
    let (_, events, results) = play(&builtin("leader_crash"), 2);
    let leaders = leaders(&events);
    assert!(
        leaders.len() >= 2 && leaders[0].1 != leaders.last().unwrap().1,
        "{leaders:?}"
    );
    assert_eq!(
        results,
        [
            Outcome::Done,
            Outcome::Done,
            Outcome::Value(Some("after".into()))
        ]
    );
}

#[test]
fn split_vote() {
    let (sim, events, results) = play(&builtin("split_vote"), 3);
    let candidates = |term| {
        events
            .iter()
            .filter(|e| {
                e.term == term
                    && matches!(
                        &e.kind,
                        EventKind::RoleChanged {
                            role: Role::Candidate,
                            ..
                        }
                    )
            })
            .count()
    };
    let first = leaders(&events)[0].0;
    let split = first + 1;
    assert_eq!(
        candidates(split),
        2,
        "both survivors campaign in term {split}"
    );
    assert!(
        leaders(&events).iter().all(|(t, _)| *t != split),
        "nobody wins term {split}"
    );
    assert!(leaders(&events).iter().any(|(t, _)| *t > split));
    assert_eq!(results, [Outcome::Done]);
    assert!(sim.leader().is_some());
}

#[test]
fn minority_leader_is_rolled_back() {
    let (sim, _, results) = play(&builtin("minority_leader"), 4);
    assert_eq!(
        results[0],
        Outcome::Unknown,
        "the minority leader cannot commit"
    );
    assert_eq!(results[1], Outcome::Done);
    assert_eq!(results[2], Outcome::Value(Some("majority".into())));
    let applied: Vec<u64> = sim
        .members()
        .iter()
        .map(|m| m.status.unwrap().applied_index)
        .collect();
    assert!(
        applied.windows(2).all(|w| w[0] == w[1]),
        "all caught up after the heal: {applied:?}"
    );
}

#[test]
fn follower_catches_up_by_snapshot() {
    let (sim, events, results) = play(&builtin("snapshot_catch_up"), 5);
    assert!(results.iter().all(|o| *o == Outcome::Done), "{results:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SnapshotApplied { .. }))
    );
    assert_all_applied_equally(&sim);
}

#[test]
fn member_add_and_remove() {
    let (sim, _, results) = play(&builtin("member_add_remove"), 6);
    assert!(results.iter().all(|o| *o == Outcome::Done), "{results:?}");
    let members = sim.members();
    assert_eq!(members.len(), 4);
    assert!(members.iter().any(|m| m.name == "m4" && m.running));
    assert_eq!(members.iter().filter(|m| m.removed).count(), 1);
}

#[test]
fn two_members_lose_quorum_with_one_down() {
    let (_, _, results) = play(&builtin("two_member_quorum_loss"), 7);
    assert_eq!(results[0], Outcome::Done);
    assert!(
        matches!(results[1], Outcome::Unknown | Outcome::Failed(_)),
        "{results:?}"
    );
    assert_eq!(results[2], Outcome::Done);
}

#[test]
fn scenarios_are_data() {
    for s in scenario::builtin() {
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
    }
    let config: SimConfig = serde_json::from_str(r#"{"members":5}"#).unwrap();
    assert_eq!(config.members, 5);
}

/// Random schedules run by default: a few seconds either way (a debug build is ~10× slower).
const DEFAULT_SEEDS: u64 = if cfg!(debug_assertions) { 8 } else { 100 };

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_fault_schedules_stay_safe_and_linearizable() {
    let ops = env("ETCDLAB_SIM_OPS").unwrap_or(200) as usize;
    let seeds: Vec<u64> = match env("ETCDLAB_SIM_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("ETCDLAB_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)).collect(),
    };
    let (mut unknown, mut answered, mut requests) = (0, 0, 0);
    for seed in seeds {
        let s = scenario::random(seed, ops);
        let mut sim = Simulator::new(s.config.clone(), seed);
        for step in &s.steps {
            // Steps that do not fit the moment (restarting when nobody is down) are skipped.
            let _ = sim.apply(step);
            sim.take_events();
        }
        let results = sim.take_results();
        requests += results.len();
        answered += results
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Outcome::Done | Outcome::Deleted(_) | Outcome::Value(_) | Outcome::Swapped(_)
                )
            })
            .count();
        let replay = format!("replay with ETCDLAB_SIM_SEED={seed} ETCDLAB_SIM_OPS={ops}");
        assert_eq!(sim.violation(), None, "{replay}");
        match check(&sim.history().operations(), CHECK_BUDGET) {
            Verdict::Linearizable => {}
            Verdict::Unknown { .. } => unknown += 1,
            Verdict::NotLinearizable { key } => {
                for op in sim.history().operations().iter().filter(|op| op.key == key) {
                    eprintln!("{op:?}");
                }
                panic!("seed {seed}: key {key} is not linearizable (history above); {replay}");
            }
        }
    }
    assert_eq!(
        unknown, 0,
        "histories the checker could not decide within its budget"
    );
    println!("{answered} of {requests} requests answered");
    assert!(
        answered * 2 > requests,
        "most requests are answered despite the faults"
    );
}

#[test]
fn the_checker_catches_a_stale_serializable_read() {
    let mut sim = Simulator::new(
        SimConfig {
            members: 5,
            ..SimConfig::default()
        },
        9,
    );
    sim.step_ms(3_000);
    let old = sim.leader().expect("a leader");
    let put = |value: &str| ClientOp::Put {
        key: "k".into(),
        value: value.into(),
    };
    sim.client(put("v1"), Some(&old));
    sim.step_ms(500);
    sim.partition(&[vec![old.clone()]]).unwrap();
    sim.step_ms(3_000);
    let new = sim.leader().expect("a new leader");
    assert_ne!(new, old);
    sim.client(put("v2"), Some(&new));
    sim.step_ms(500);
    let get = |serializable| ClientOp::Get {
        key: "k".into(),
        serializable,
    };
    sim.client(get(false), Some(&old));
    sim.client(get(true), Some(&old));
    sim.step_ms(5_000);
    let mut results = sim.take_results();
    results.sort_by_key(|(id, _)| *id);
    let outcomes: Vec<Outcome> = results.into_iter().map(|(_, o)| o).collect();
    // The cut-off member cannot confirm a linearizable read; its own state is stale.
    let stale = Outcome::Value(Some("v1".into()));
    let expected = [
        Outcome::Done,
        Outcome::Done,
        Outcome::Failed("timed out".into()),
        stale,
    ];
    assert_eq!(outcomes, expected);
    assert_eq!(sim.violation(), None);
    assert_eq!(
        check(&sim.history().operations(), CHECK_BUDGET),
        Verdict::NotLinearizable { key: "k".into() }
    );
}

#[test]
fn the_cluster_view_follows_a_simulated_cluster() {
    let (sim, events, _) = play(&builtin("leader_crash"), 10);
    let mut view = etcdlab_core::cluster_view::ClusterView::new();
    for event in &events {
        view.apply(event);
    }
    assert_eq!(view.members.len(), 3);
    assert_eq!(view.leader().map(|m| m.name.clone()), sim.leader());
    let leader = view.leader().unwrap();
    assert_eq!(leader.kv.get("k").map(String::as_str), Some("after"));
    assert!(view.now_ms <= sim.now_ms() && view.now_ms + 200 > sim.now_ms());
}

/// Every member has applied the same entries.
fn assert_all_applied_equally(sim: &Simulator) {
    let applied: Vec<u64> = sim
        .members()
        .iter()
        .map(|m| m.status.unwrap().applied_index)
        .collect();
    assert!(applied.windows(2).all(|w| w[0] == w[1]), "{applied:?}");
}
