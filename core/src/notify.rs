//! Notifications ("toasts") about other members' changes, batched so a burst does not flood
//! the screen: an author's first change shows at once, and their further changes within the
//! window update that same toast when it closes ("3 changes by Alice", same id); past a rate
//! cap the rest of the period is summed up in one final toast. Sans-IO like the
//! rest of the core: changes and time come in, toasts come out at the deadlines it announces.

use crate::json_text::{write_str, WriteJson};
use crate::sorted::{SortedMap, SortedSet};
use crate::Millis;
use std::collections::VecDeque;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Added,
    /// Changed.
    Updated,
    /// Deleted.
    Deleted,
}

impl Action {
    /// `added`, `updated` or `deleted`, as the app and the stored feed name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }
}

impl WriteJson for Action {
    fn write_json(&self, out: &mut String) {
        write_str(out, self.as_str());
    }
}

/// One change by another member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Who made it (user id).
    pub author: String,
    /// Wire table name.
    pub table: String,
    /// The row's label (title, name), when it has one.
    pub label: Option<String>,
    /// What happened.
    pub action: Action,
}

/// What a toast is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    /// Other members' changes.
    Changes,
    /// The connection has been down for longer than the grace period.
    ConnectionLost,
    /// The connection is back after a lost toast.
    ConnectionRestored,
    /// Another member's change met one of this user's edits (see [`Notifier::conflict`]).
    Conflict,
}

impl ToastKind {
    /// The name the JS API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Changes => "changes",
            ToastKind::ConnectionLost => "connectionLost",
            ToastKind::ConnectionRestored => "connectionRestored",
            ToastKind::Conflict => "conflict",
        }
    }
}

/// A toast for the app to render — as text, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// Its id: a toast with an id already shown replaces that one (a batch that grew).
    pub id: u64,
    /// What it is about.
    pub kind: ToastKind,
    /// The author (absent for a summary of several authors).
    pub author: Option<String>,
    /// How many changes it stands for.
    pub count: usize,
    /// The text, e.g. `Alice added 'Wonderwall'`.
    pub text: String,
}

/// Which changes make toasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Every change by another member.
    All,
    /// None.
    None,
    /// Only changes to these tables.
    Tables(SortedSet<String>),
}

/// Settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Changes by one author within this window are one toast.
    pub window_ms: u64,
    /// At most this many toasts per period…
    pub max_toasts: usize,
    /// …of this length; then one summary when the period ends.
    pub period_ms: u64,
    /// Which changes count.
    pub policy: Policy,
    /// A connection down for this long gets a "lost" toast (blips stay quiet); `None` turns
    /// connection toasts off.
    pub connection_grace_ms: Option<u64>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            window_ms: 2_000,
            max_toasts: 5,
            period_ms: 10_000,
            policy: Policy::All,
            connection_grace_ms: Some(3_000),
        }
    }
}

/// A toast shows this long at most after the first change while the author's name is looked
/// up ("Alice added…" rather than "Someone added…"); a known author's shows at once.
const NAME_WAIT_MS: u64 = 500;

#[derive(Debug)]
struct Batch {
    opened: Millis,
    changes: Vec<Change>,
    /// The toast shown for the batch, once shown.
    toast: Option<u64>,
    /// The rate cap held the batch back: its changes go to the period's summary.
    held: bool,
    /// Changes already in the shown toast or in the summary.
    accounted: usize,
}

/// The batching engine.
#[derive(Debug)]
pub struct Notifier {
    config: NotifyConfig,
    me: String,
    names: SortedMap<String, String>,
    batches: SortedMap<String, Batch>,
    sent: VecDeque<Millis>,
    suppressed: Vec<Change>,
    suppressed_until: Option<Millis>,
    out: VecDeque<Toast>,
    /// Since when the connection is down (after having been up).
    down_since: Option<Millis>,
    lost_announced: bool,
    was_connected: bool,
    next_id: u64,
}

impl Notifier {
    /// A notifier for user `me` (whose own changes, from any device, never make toasts).
    pub fn new(config: NotifyConfig, me: impl Into<String>) -> Self {
        Self {
            config,
            me: me.into(),
            names: SortedMap::new(),
            batches: SortedMap::new(),
            sent: VecDeque::new(),
            suppressed: Vec::new(),
            suppressed_until: None,
            out: VecDeque::new(),
            down_since: None,
            lost_announced: false,
            was_connected: false,
            next_id: 0,
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The connection went up (`true`) or down at `now`. Going down is announced only once it
    /// has lasted the grace period; coming back only if going down was announced.
    pub fn connection(&mut self, now: Millis, connected: bool) {
        if connected {
            self.was_connected = true;
            self.down_since = None;
            if std::mem::take(&mut self.lost_announced) {
                let id = self.new_id();
                self.out.push_back(Toast {
                    id,
                    kind: ToastKind::ConnectionRestored,
                    author: None,
                    count: 0,
                    text: "Back online: changes are syncing again".into(),
                });
            }
        } else if self.was_connected && self.down_since.is_none() && !self.lost_announced {
            self.down_since = Some(now);
            self.handle_timeout(now);
        }
    }

    fn lost_deadline(&self) -> Option<Millis> {
        Some(self.down_since? + self.config.connection_grace_ms?)
    }

    /// Remembers a member's display name (from profiles); a toast waiting for it shows now.
    pub fn set_name(&mut self, user: impl Into<String>, name: impl Into<String>) {
        let user = user.into();
        self.names.insert(user.clone(), name.into());
        let waiting = self
            .batches
            .get(&user)
            .filter(|b| b.toast.is_none() && !b.held)
            .map(|b| b.opened);
        if let Some(opened) = waiting {
            self.show(opened, &user);
        }
    }

    /// A change arrived at `now`.
    pub fn push(&mut self, now: Millis, change: Change) {
        if change.author == self.me {
            return;
        }
        let wanted = match &self.config.policy {
            Policy::All => true,
            Policy::None => false,
            Policy::Tables(tables) => tables.contains(&change.table),
        };
        if !wanted {
            return;
        }
        self.handle_timeout(now);
        let author = change.author.clone();
        if let Some(batch) = self.batches.get_mut(&author) {
            batch.changes.push(change);
            return;
        }
        self.batches.insert(
            author.clone(),
            Batch {
                opened: now,
                changes: vec![change],
                toast: None,
                held: false,
                accounted: 0,
            },
        );
        // An author's first change in a while shows at once when their name is known.
        if self.names.contains_key(&author) {
            self.show(now, &author);
        }
    }

    /// Shows the toast of `author`'s open batch (or hands it to the summary, over the cap).
    fn show(&mut self, now: Millis, author: &str) {
        let Some(changes) = self.batches.get(author).map(|b| b.changes.clone()) else {
            return;
        };
        let count = changes.len();
        let toast = self.emit(now, changes);
        let batch = self.batches.get_mut(author).expect("read above");
        batch.toast = toast;
        batch.held = toast.is_none();
        batch.accounted = count;
    }

    fn name_wait(&self) -> u64 {
        NAME_WAIT_MS.min(self.config.window_ms)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let mut next = self.suppressed_until;
        let mut consider = |at: Millis| next = Some(next.map_or(at, |next| next.min(at)));
        for batch in self.batches.values() {
            if batch.toast.is_none() && !batch.held {
                consider(batch.opened + self.name_wait());
            } else {
                consider(batch.opened + self.config.window_ms);
            }
        }
        if let Some(deadline) = self.lost_deadline() {
            consider(deadline);
        }
        next
    }

    /// Closes the windows due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.lost_deadline().is_some_and(|t| t <= now) {
            self.down_since = None;
            self.lost_announced = true;
            let id = self.new_id();
            self.out.push_back(Toast {
                id,
                kind: ToastKind::ConnectionLost,
                author: None,
                count: 0,
                text: "Connection lost: changes are saved here and will sync".into(),
            });
        }
        // Names not found in time: the toast shows with "Someone".
        let (name_wait, window) = (self.name_wait(), self.config.window_ms);
        let unnamed = (self.batches).keys_where(&|_, batch| {
            batch.toast.is_none() && !batch.held && batch.opened + name_wait <= now
        });
        for author in unnamed {
            self.show(now, &author);
        }
        let due = (self.batches).keys_where(&|_, batch| batch.opened + window <= now);
        for author in due {
            let batch = self.batches.remove(&author).expect("listed above");
            if batch.changes.len() <= batch.accounted {
                continue;
            }
            match batch.toast {
                // The toast shown for the first changes now stands for the whole batch.
                Some(id) => {
                    let toast = self.describe(id, &batch.changes);
                    self.out.push_back(toast);
                }
                // Held back by the cap: the rest joins the summary, which is scheduled again
                // if it already went out.
                None => {
                    let mut unaccounted = batch.changes;
                    self.suppressed.extend(unaccounted.drain(batch.accounted..));
                    let period_end = self
                        .sent
                        .front()
                        .map_or(now, |t| *t + self.config.period_ms);
                    self.suppressed_until.get_or_insert(period_end.max(now));
                }
            }
        }
        if self.suppressed_until.is_some_and(|t| t <= now) {
            self.suppressed_until = None;
            let changes = std::mem::take(&mut self.suppressed);
            if !changes.is_empty() {
                let mut authors: SortedSet<&str> = SortedSet::new();
                for change in &changes {
                    authors.insert(change.author.as_str());
                }
                let id = self.new_id();
                let toast = if authors.len() == 1 {
                    self.describe(id, &changes)
                } else {
                    Toast {
                        id,
                        kind: ToastKind::Changes,
                        author: None,
                        count: changes.len(),
                        text: format!("{} more changes by {} people", changes.len(), authors.len()),
                    }
                };
                self.out.push_back(toast);
            }
        }
    }

    /// Another member's change (by `author`, when known) met one of this user's edits to a
    /// row of `table` labelled `label`; `deleted` when they deleted it. Shown at once whatever
    /// the rate cap: the user has a choice to make.
    pub fn conflict(
        &mut self,
        author: Option<&str>,
        table: &str,
        label: Option<&str>,
        deleted: bool,
    ) {
        let who = author.map_or_else(|| "Someone".to_owned(), |a| self.name(a));
        let what = label.map_or_else(|| format!("a {}", singular(table)), |l| format!("'{l}'"));
        let text = if deleted {
            format!("{who} deleted {what} while you were editing it")
        } else {
            format!("{who} also changed {what}: choose the values to keep")
        };
        let id = self.new_id();
        self.out.push_back(Toast {
            id,
            kind: ToastKind::Conflict,
            author: author.map(str::to_owned),
            count: 1,
            text,
        });
    }

    /// The next toast to show.
    pub fn poll_toast(&mut self) -> Option<Toast> {
        self.out.pop_front()
    }

    /// Shows a new toast for `changes` unless the rate cap holds it back; its id if shown.
    fn emit(&mut self, now: Millis, changes: Vec<Change>) -> Option<u64> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.since(*t) >= self.config.period_ms)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.config.max_toasts || self.suppressed_until.is_some() {
            // Over the cap: hold everything until the period ends, then one summary.
            let until = self
                .sent
                .front()
                .map_or(now, |t| *t + self.config.period_ms);
            self.suppressed_until.get_or_insert(until);
            self.suppressed.extend(changes);
            return None;
        }
        self.sent.push_back(now);
        let id = self.new_id();
        let toast = self.describe(id, &changes);
        self.out.push_back(toast);
        Some(id)
    }

    /// A member's display name, when known.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.names.get(user).cloned()
    }

    fn name(&self, user: &str) -> String {
        self.names
            .get(user)
            .cloned()
            .unwrap_or_else(|| "Someone".to_owned())
    }

    /// Toast `id`, describing `changes`.
    fn describe(&self, id: u64, changes: &[Change]) -> Toast {
        let author = changes[0].author.clone();
        let who = self.name(&author);
        let text = match changes {
            [one] => {
                let verb = match one.action {
                    Action::Added => "added",
                    Action::Updated => "updated",
                    Action::Deleted => "deleted",
                };
                match (&one.label, one.action) {
                    (Some(label), Action::Added | Action::Updated) => {
                        format!("{who} {verb} '{label}'")
                    }
                    _ => format!("{who} {verb} a {}", singular(&one.table)),
                }
            }
            many => format!("{} changes by {who}", many.len()),
        };
        Toast {
            id,
            kind: ToastKind::Changes,
            author: Some(author),
            count: changes.len(),
            text,
        }
    }
}

/// `songs` → `song`, `practice_sessions` → `practice session`.
fn singular(table: &str) -> String {
    let words = table.replace('_', " ");
    words.strip_suffix('s').map_or(words.clone(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(author: &str, action: Action, label: Option<&str>) -> Change {
        Change {
            author: author.into(),
            table: "songs".into(),
            label: label.map(Into::into),
            action,
        }
    }

    fn drain(notifier: &mut Notifier) -> Vec<String> {
        std::iter::from_fn(|| notifier.poll_toast())
            .map(|t| t.text)
            .collect()
    }

    fn notifier() -> Notifier {
        let mut n = Notifier::new(NotifyConfig::default(), "me");
        n.set_name("alice", "Alice");
        n.set_name("bob", "Bob");
        n
    }

    #[test]
    fn an_authors_first_change_shows_at_once() {
        let mut n = notifier();
        n.push(
            Millis(0),
            change("alice", Action::Added, Some("Wonderwall")),
        );
        assert_eq!(drain(&mut n), ["Alice added 'Wonderwall'"], "no wait");
        assert_eq!(
            n.poll_timeout(),
            Some(Millis(2_000)),
            "the window stays open"
        );
        n.handle_timeout(Millis(2_000));
        assert!(drain(&mut n).is_empty(), "one change: nothing to update");
        // An author whose name is not known waits for it, half a second at most.
        n.push(
            Millis(3_000),
            change("carol", Action::Deleted, Some("Yellow")),
        );
        assert!(drain(&mut n).is_empty());
        assert_eq!(n.poll_timeout(), Some(Millis(3_500)));
        n.handle_timeout(Millis(3_500));
        assert_eq!(drain(&mut n), ["Someone deleted a song"]);
        // A name that arrives in time shows the toast at once, named.
        n.push(Millis(9_000), change("dave", Action::Added, Some("Creep")));
        n.set_name("dave", "Dave");
        assert_eq!(drain(&mut n), ["Dave added 'Creep'"]);
    }

    #[test]
    fn a_burst_by_one_author_grows_the_same_toast_and_own_changes_make_none() {
        let mut n = notifier();
        n.push(Millis(0), change("alice", Action::Updated, Some("x")));
        let first = n.poll_toast().expect("at once");
        assert_eq!(first.text, "Alice updated 'x'");
        for t in [500, 1_500] {
            n.push(Millis(t), change("alice", Action::Updated, Some("x")));
        }
        n.push(Millis(100), change("me", Action::Added, Some("mine")));
        n.push(
            Millis(200),
            change("bob", Action::Updated, Some("Setlist 1")),
        );
        assert_eq!(drain(&mut n), ["Bob updated 'Setlist 1'"]);
        n.handle_timeout(Millis(2_200));
        let grown = n.poll_toast().expect("the update");
        assert_eq!(
            (grown.id, grown.text.as_str(), grown.count),
            (first.id, "3 changes by Alice", 3)
        );
        assert!(n.poll_toast().is_none());
        // Later changes start a toast of their own.
        n.push(Millis(5_000), change("alice", Action::Added, Some("y")));
        assert_ne!(n.poll_toast().unwrap().id, first.id);
    }

    #[test]
    fn past_the_rate_cap_the_rest_becomes_one_summary() {
        let mut n = notifier();
        let authors = ["a", "b", "c", "d", "e", "f", "g"];
        for who in authors {
            n.set_name(who, who.to_uppercase());
        }
        // Seven authors' toasts in one period: five shown, the rest summed up at its end.
        for (i, who) in authors.iter().enumerate() {
            n.push(
                Millis(i as u64 * 10),
                change(who, Action::Added, Some("song")),
            );
        }
        // Driven as a driver would: each deadline as it comes.
        while let Some(due) = n.poll_timeout().filter(|t| *t <= Millis(2_100)) {
            n.handle_timeout(due);
        }
        assert_eq!(drain(&mut n).len(), 5);
        let due = n.poll_timeout().expect("the summary is scheduled");
        assert_eq!(due, Millis(10_000), "a period after the first toast");
        n.handle_timeout(due);
        assert_eq!(drain(&mut n), ["2 more changes by 2 people"]);
    }

    #[test]
    fn the_policy_chooses_tables() {
        let tables = ["setlists".to_owned()].into_iter().collect();
        let config = NotifyConfig {
            policy: Policy::Tables(tables),
            ..NotifyConfig::default()
        };
        let mut n = Notifier::new(config, "me");
        n.push(Millis(0), change("alice", Action::Added, Some("song")));
        n.handle_timeout(Millis(5_000));
        assert!(drain(&mut n).is_empty());
        let mut quiet = Notifier::new(
            NotifyConfig {
                policy: Policy::None,
                ..NotifyConfig::default()
            },
            "me",
        );
        quiet.push(Millis(0), change("alice", Action::Added, Some("song")));
        quiet.handle_timeout(Millis(5_000));
        assert!(drain(&mut quiet).is_empty());
        assert_eq!(singular("practice_sessions"), "practice session");
    }

    #[test]
    fn a_blip_stays_quiet_and_an_outage_is_announced_both_ways() {
        let mut n = notifier();
        n.connection(Millis(0), false);
        assert_eq!(
            n.poll_timeout(),
            None,
            "never connected yet: nothing was lost"
        );
        n.connection(Millis(10), true);
        n.connection(Millis(1_000), false);
        n.connection(Millis(2_000), true);
        n.handle_timeout(Millis(10_000));
        assert!(drain(&mut n).is_empty(), "a one-second blip");
        n.connection(Millis(20_000), false);
        n.connection(Millis(21_000), false);
        assert_eq!(n.poll_timeout(), Some(Millis(23_000)));
        n.handle_timeout(Millis(23_000));
        let lost = n.poll_toast().expect("lost");
        assert_eq!(lost.kind, ToastKind::ConnectionLost);
        n.connection(Millis(30_000), true);
        let back = n.poll_toast().expect("restored");
        assert_eq!(back.kind, ToastKind::ConnectionRestored);
        assert_eq!(n.poll_timeout(), None);
    }

    #[test]
    fn a_conflict_is_told_at_once_even_past_the_rate_cap() {
        let mut n = notifier();
        for k in 0..20 {
            n.push(
                Millis(k),
                Change {
                    author: format!("user{k}"),
                    table: "songs".into(),
                    label: None,
                    action: Action::Added,
                },
            );
        }
        drain(&mut n);
        n.conflict(Some("alice"), "songs", Some("Wonderwall"), false);
        n.conflict(None, "practice_sessions", None, true);
        let first = n.poll_toast().expect("conflict toast");
        assert_eq!(first.kind, ToastKind::Conflict);
        assert_eq!(
            first.text,
            "Alice also changed 'Wonderwall': choose the values to keep"
        );
        assert_eq!(
            drain(&mut n),
            ["Someone deleted a practice session while you were editing it"]
        );
    }
}
