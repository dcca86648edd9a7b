//! Time in the visualizer. Every event received is kept in arrival order; the view shown is
//! the reduction of the first `cursor` events. A playback clock (in event time) moves at
//! `speed` while playing and applies events as it passes them; pausing stops it, stepping
//! applies one event, seeking rebuilds the view from the nearest checkpoint. Message flights
//! are drawn for at least [`MIN_FLIGHT_MS`] so loopback-fast messages stay visible.

use etcdlab_core::cluster_view::{ClusterView, Flight};
use etcdlab_core::events::RaftEvent;

/// Events kept; older ones are folded into the base view.
pub const MAX_HISTORY: usize = 100_000;
/// A checkpoint of the view every this many events, for fast seeking.
const CHECKPOINT_EVERY: usize = 500;
/// The shortest time a message is shown travelling, in event-time milliseconds.
pub const MIN_FLIGHT_MS: f64 = 600.0;
/// How far (event-time ms) normal-speed playback may fall behind the newest event.
const MAX_LIVE_LAG_MS: f64 = 3_000.0;
/// How long a message without a receipt is shown before it fades.
const UNANSWERED_MS: f64 = 2_000.0;

/// Events, the view at the cursor, and the clock.
pub struct Playback {
    /// The view before `history[0]` (older events were folded into it).
    base: ClusterView,
    history: Vec<RaftEvent>,
    /// (events applied, view after them), every [`CHECKPOINT_EVERY`] events.
    checkpoints: Vec<(usize, ClusterView)>,
    view: ClusterView,
    cursor: usize,
    clock_ms: f64,
    pub paused: bool,
    pub speed: f64,
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            base: ClusterView::new(),
            history: Vec::new(),
            checkpoints: Vec::new(),
            view: ClusterView::new(),
            cursor: 0,
            clock_ms: 0.0,
            paused: false,
            speed: 1.0,
        }
    }
}

impl Playback {
    pub fn view(&self) -> &ClusterView {
        &self.view
    }

    /// The view, for changes that do not come from events (the lab's member list).
    pub fn view_mut(&mut self) -> &mut ClusterView {
        &mut self.view
    }

    pub fn clock_ms(&self) -> f64 {
        self.clock_ms
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether the view shows every event received.
    pub fn at_head(&self) -> bool {
        self.cursor == self.history.len()
    }

    /// Adds a received event; when playing at the head it is applied at once if the clock
    /// has passed it.
    pub fn push(&mut self, event: RaftEvent) {
        if self.history.is_empty() && self.base.members.is_empty() {
            // The clock starts at the first event.
            self.clock_ms = event.ts_ms as f64;
        }
        let ts = event.ts_ms as f64;
        self.history.push(event);
        // Playing at normal speed or faster stays close to live: a page that opens on a long
        // history, or a tab that slept, jumps ahead instead of replaying it all.
        if !self.paused && self.speed >= 1.0 && ts - self.clock_ms > MAX_LIVE_LAG_MS {
            self.clock_ms = ts - MIN_FLIGHT_MS;
        }
        if self.history.len() > MAX_HISTORY {
            self.fold_oldest(MAX_HISTORY / 2);
        }
        if !self.paused {
            self.catch_up();
        }
    }

    /// Moves the clock by `elapsed_ms` of wall time (scaled by the speed) and applies the
    /// events it passes.
    pub fn advance(&mut self, elapsed_ms: f64) {
        if self.paused || self.history.is_empty() {
            return;
        }
        self.clock_ms += elapsed_ms * self.speed;
        self.catch_up();
    }

    /// Keeps the clock from passing `max_ms`: a simulated cluster's present, which it cannot
    /// show beyond (while frozen, the simulated time stands still and so does the clock).
    pub fn hold_clock(&mut self, max_ms: f64) {
        self.clock_ms = self.clock_ms.min(max_ms);
    }

    /// Applies the next event and pauses there.
    pub fn step(&mut self) {
        self.paused = true;
        if let Some(event) = self.history.get(self.cursor) {
            self.clock_ms = self.clock_ms.max(event.ts_ms as f64);
            self.apply_next();
        }
    }

    /// Shows the view after the first `cursor` events (paused there).
    pub fn seek(&mut self, cursor: usize) {
        let cursor = cursor.min(self.history.len());
        self.paused = true;
        if cursor < self.cursor {
            let (start, view) = self
                .checkpoints
                .iter()
                .rev()
                .find(|(at, _)| *at <= cursor)
                .map(|(at, v)| (*at, v.clone()))
                .unwrap_or((0, self.base.clone()));
            self.view = view;
            self.cursor = start;
        }
        while self.cursor < cursor {
            self.apply_next();
        }
        if let Some(event) = cursor.checked_sub(1).and_then(|i| self.history.get(i)) {
            self.clock_ms = event.ts_ms as f64;
        }
    }

    /// Jumps to the newest event and plays on from there.
    pub fn go_live(&mut self) {
        self.seek(self.history.len());
        if let Some(last) = self.history.last() {
            self.clock_ms = self.clock_ms.max(last.ts_ms as f64);
        }
        self.paused = false;
    }

    fn catch_up(&mut self) {
        while let Some(event) = self.history.get(self.cursor) {
            if event.ts_ms as f64 > self.clock_ms {
                break;
            }
            self.apply_next();
        }
    }

    fn apply_next(&mut self) {
        let event = &self.history[self.cursor];
        self.view.apply(event);
        self.cursor += 1;
        if self.cursor.is_multiple_of(CHECKPOINT_EVERY)
            && self
                .checkpoints
                .last()
                .is_none_or(|(at, _)| *at < self.cursor)
        {
            self.checkpoints.push((self.cursor, self.view.clone()));
        }
    }

    /// Folds the oldest `count` events into the base view so memory stays bounded.
    fn fold_oldest(&mut self, count: usize) {
        let count = count.min(self.cursor);
        if count == 0 {
            return;
        }
        for event in &self.history[..count] {
            self.base.apply(event);
        }
        self.history.drain(..count);
        self.cursor -= count;
        self.checkpoints.retain(|(at, _)| *at >= count);
        for (at, _) in &mut self.checkpoints {
            *at -= count;
        }
    }
}

/// Where a flight is drawn, as a fraction of the way from sender to receiver, at `clock_ms`;
/// `None` when it is not shown (not yet sent, or long arrived).
pub fn flight_progress(flight: &Flight, clock_ms: f64) -> Option<f64> {
    let sent = flight.sent_ms as f64;
    let since = clock_ms - sent;
    if since < 0.0 {
        return None;
    }
    if flight.dropped.is_some() {
        // Travels half way, then is shown dropped for a moment.
        return (since < MIN_FLIGHT_MS).then_some((since / MIN_FLIGHT_MS).min(0.5));
    }
    match flight.arrived_ms {
        Some(arrived) => {
            let duration = (arrived as f64 - sent).max(MIN_FLIGHT_MS);
            (since < duration).then_some(since / duration)
        }
        // In the air: it has not been received (yet, at this point of the history).
        None => (since < UNANSWERED_MS).then_some((since / MIN_FLIGHT_MS).min(0.5)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcdlab_core::events::{EventKind, SCHEMA_VERSION};

    fn commit(seq: u64, ts_ms: u64) -> RaftEvent {
        RaftEvent {
            v: SCHEMA_VERSION,
            seq,
            ts_ms,
            node: "m1".into(),
            id: "1".into(),
            term: 2,
            kind: EventKind::CommitAdvanced { commit: seq },
        }
    }

    #[test]
    fn the_clock_applies_events_as_it_passes_them() {
        let mut playback = Playback::default();
        playback.push(commit(1, 1_000));
        playback.push(commit(2, 1_100));
        assert_eq!(playback.cursor(), 1);
        playback.advance(50.0);
        assert_eq!(playback.cursor(), 1);
        playback.advance(60.0);
        assert_eq!(playback.cursor(), 2);
        assert_eq!(playback.view().members["1"].commit, 2);
    }

    #[test]
    fn pause_step_seek_and_live() {
        let mut playback = Playback {
            paused: true,
            ..Playback::default()
        };
        for i in 1..=1_200 {
            playback.push(commit(i, 1_000 + i));
        }
        assert_eq!(playback.cursor(), 0);
        playback.step();
        assert_eq!(playback.view().members["1"].commit, 1);
        playback.seek(1_100);
        assert_eq!(playback.view().members["1"].commit, 1_100);
        playback.seek(10);
        assert_eq!(playback.view().members["1"].commit, 10);
        playback.advance(10_000.0);
        assert_eq!(playback.cursor(), 10, "paused playback does not move");
        playback.go_live();
        assert!(playback.at_head() && !playback.paused);
        assert_eq!(playback.view().members["1"].commit, 1_200);
    }

    #[test]
    fn normal_speed_stays_near_live_and_slow_motion_does_not() {
        let mut playback = Playback::default();
        playback.push(commit(1, 1_000));
        playback.push(commit(2, 60_000));
        assert_eq!(playback.cursor(), 1);
        playback.advance(MIN_FLIGHT_MS);
        assert_eq!(playback.cursor(), 2, "jumped close to the newest event");
        let mut slow = Playback {
            speed: 0.5,
            ..Playback::default()
        };
        slow.push(commit(1, 1_000));
        slow.push(commit(2, 60_000));
        slow.advance(1_000.0);
        assert_eq!(slow.cursor(), 1);
    }

    #[test]
    fn a_held_clock_does_not_pass_the_present() {
        let mut playback = Playback::default();
        playback.push(commit(1, 1_000));
        playback.push(commit(2, 1_500));
        playback.advance(300.0);
        playback.hold_clock(1_200.0);
        playback.advance(200.0);
        assert_eq!(
            playback.cursor(),
            1,
            "the clock is at 1,400, not past 1,500"
        );
        playback.hold_clock(1_200.0);
        playback.advance(300.0);
        assert_eq!(playback.cursor(), 2);
    }

    #[test]
    fn the_clock_waits_for_the_first_event() {
        let mut playback = Playback::default();
        playback.advance(5_000.0);
        playback.push(commit(1, 1_000_000));
        assert_eq!(playback.cursor(), 1);
    }

    #[test]
    fn slow_motion_takes_longer_to_reach_an_event() {
        let mut playback = Playback {
            speed: 0.1,
            ..Playback::default()
        };
        playback.push(commit(1, 1_000));
        playback.push(commit(2, 1_100));
        playback.advance(500.0);
        assert_eq!(playback.cursor(), 1);
        playback.advance(600.0);
        assert_eq!(playback.cursor(), 2);
    }

    #[test]
    fn flights_stay_visible_for_a_minimum_time() {
        let flight = |arrived: Option<u64>, dropped: Option<&str>| Flight {
            from: "1".into(),
            to: "2".into(),
            msg_id: 1,
            kind: etcdlab_core::cluster_view::FlightKind::Append,
            label: String::new(),
            term: 1,
            sent_ms: 1_000,
            arrived_ms: arrived,
            dropped: dropped.map(String::from),
            delay_ms: 0,
        };
        let fast = flight(Some(1_001), None);
        assert_eq!(flight_progress(&fast, 999.0), None);
        assert_eq!(flight_progress(&fast, 1_300.0), Some(0.5));
        assert_eq!(flight_progress(&fast, 1_600.0), None);
        let dropped = flight(None, Some("partition"));
        assert_eq!(flight_progress(&dropped, 1_500.0), Some(0.5));
        assert_eq!(flight_progress(&dropped, 1_700.0), None);
        let pending = flight(None, None);
        assert_eq!(flight_progress(&pending, 1_900.0), Some(0.5));
    }
}
